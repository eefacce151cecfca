#include "config/layers.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

namespace tasker::config {

namespace {

std::string join(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string{key} : std::string{prefix} + "." + std::string{key};
}

void mark_all(provenance& sources, const toml::table& table, const std::string& prefix,
              const std::string& source) {
  for (auto&& [key, node] : table) {
    auto path = join(prefix, key.str());
    sources[path] = source;
    if (const auto* sub = node.as_table())
      mark_all(sources, *sub, path, source);
  }
}

void merge_into(toml::table& base, const toml::table& over, const std::string& prefix,
                provenance& sources, const std::string& source) {
  for (auto&& [key, node] : over) {
    auto path = join(prefix, key.str());
    if (const auto* over_table = node.as_table()) {
      if (auto* base_table = base[key].as_table()) {
        merge_into(*base_table, *over_table, path, sources, source);
        continue;
      }
      mark_all(sources, *over_table, path, source);
    }
    sources[path] = source;
    base.insert_or_assign(key, node);
  }
}

std::string describe(const toml::node& node) {
  std::ostringstream out;
  out << node.type();
  return out.str();
}

/// Shortest readable form that still reads back as a float ("0.7", "1.0").
std::string number_text(double v) {
  std::ostringstream out;
  out << v;
  auto text = out.str();
  if (text.find_first_of(".eEn") == std::string::npos)
    text += ".0";
  return text;
}

/// A TOML basic string.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\')
      out += '\\';
    out += ch;
  }
  return out + "\"";
}

void assign(const field& f, const toml::node& node, tasker_config& out, const std::string& where,
            std::vector<std::string>& errors) {
  auto wrong_type = [&] {
    errors.push_back(where + ": " + f.path + ": expected " + std::string{kind_name(f.kind)} +
                     ", found " + describe(node));
  };
  auto in_range = [&](double v, const std::string& shown) {
    if (v >= f.min && v <= f.max)
      return true;
    auto bound = [&](double b) {
      return f.kind == value_kind::floating ? number_text(b)
                                            : std::to_string(static_cast<long long>(b));
    };
    errors.push_back(where + ": " + f.path + " = " + shown + " is out of range [" + bound(f.min) +
                     ", " + bound(f.max) + "]");
    return false;
  };
  auto ref = f.ref(out);
  switch (f.kind) {
  case value_kind::boolean:
    if (auto v = node.value_exact<bool>())
      *std::get<bool*>(ref) = *v;
    else
      wrong_type();
    break;
  case value_kind::integer:
  case value_kind::optional_integer:
    if (auto v = node.value_exact<int64_t>()) {
      if (!in_range(static_cast<double>(*v), std::to_string(*v)))
        break;
      if (f.kind == value_kind::integer)
        *std::get<int*>(ref) = static_cast<int>(*v);
      else
        *std::get<std::optional<int>*>(ref) = static_cast<int>(*v);
    } else {
      wrong_type();
    }
    break;
  case value_kind::floating: {
    std::optional<double> v = node.value_exact<double>();
    if (!v)
      if (auto i = node.value_exact<int64_t>())
        v = static_cast<double>(*i);
    if (!v)
      wrong_type();
    else if (in_range(*v, number_text(*v)))
      *std::get<double*>(ref) = *v;
    break;
  }
  case value_kind::string:
    if (auto v = node.value_exact<std::string>()) {
      if (!f.choices.empty() &&
          std::find(f.choices.begin(), f.choices.end(), *v) == f.choices.end()) {
        std::string allowed;
        for (const auto& c : f.choices)
          allowed += (allowed.empty() ? "" : ", ") + c;
        errors.push_back(where + ": " + f.path + " = \"" + *v + "\" is not one of: " + allowed);
        break;
      }
      *std::get<std::string*>(ref) = *v;
    } else {
      wrong_type();
    }
    break;
  }
}

void walk(const toml::table& table, const std::string& prefix, const provenance& sources,
          tasker_config& out, const std::function<bool(std::string_view)>& allowed,
          std::vector<std::string>& errors) {
  for (auto&& [key, node] : table) {
    auto path = join(prefix, key.str());
    auto where = source_of(sources, path);
    const field* f = find_field(path);
    if (!allowed(path) || (f == nullptr && !is_section(path))) {
      errors.push_back(where + ": " + unknown_key(path));
    } else if (f != nullptr) {
      assign(*f, node, out, where, errors);
    } else if (const auto* sub = node.as_table()) {
      walk(*sub, path, sources, out, allowed, errors);
    } else {
      errors.push_back(where + ": " + path + ": expected a table, found " + describe(node));
    }
  }
}

} // namespace

void merge_layer(layered_table& into, const toml::table& over, const std::string& source) {
  merge_into(into.table, over, "", into.sources, source);
}

std::string source_of(const provenance& sources, std::string_view path) {
  std::string key{path};
  while (true) {
    if (auto it = sources.find(key); it != sources.end())
      return it->second;
    auto dot = key.rfind('.');
    if (dot == std::string::npos)
      return "defaults";
    key.resize(dot);
  }
}

std::optional<std::string> set_from_text(layered_table& into, const field& f, std::string_view text,
                                         const std::string& source) {
  auto bad = [&] {
    return source + ": " + f.path + ": expected " + std::string{kind_name(f.kind)} + ", got \"" +
           std::string{text} + "\"";
  };
  toml::table leaf_parent;
  auto last_dot = f.path.rfind('.');
  std::string leaf = f.path.substr(last_dot + 1);
  switch (f.kind) {
  case value_kind::boolean:
    if (text == "true" || text == "1" || text == "yes" || text == "on")
      leaf_parent.insert(leaf, true);
    else if (text == "false" || text == "0" || text == "no" || text == "off")
      leaf_parent.insert(leaf, false);
    else
      return bad();
    break;
  case value_kind::integer:
  case value_kind::optional_integer: {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
      return bad();
    leaf_parent.insert(leaf, v);
    break;
  }
  case value_kind::floating: {
    std::string copy{text};
    char* end = nullptr;
    double v = std::strtod(copy.c_str(), &end);
    if (copy.empty() || end != copy.c_str() + copy.size() || !std::isfinite(v))
      return bad();
    leaf_parent.insert(leaf, v);
    break;
  }
  case value_kind::string:
    leaf_parent.insert(leaf, std::string{text});
    break;
  }
  // Wrap the leaf in its parent tables so the ordinary merge (and its
  // provenance) applies.
  toml::table doc = std::move(leaf_parent);
  std::string parents = f.path.substr(0, last_dot);
  while (!parents.empty()) {
    auto dot = parents.rfind('.');
    std::string name = dot == std::string::npos ? parents : parents.substr(dot + 1);
    toml::table wrapper;
    wrapper.insert(name, std::move(doc));
    doc = std::move(wrapper);
    parents.resize(dot == std::string::npos ? 0 : dot);
  }
  merge_layer(into, doc, source);
  return std::nullopt;
}

std::vector<std::string> decode(const layered_table& layers, tasker_config& out,
                                const std::function<bool(std::string_view)>& allowed) {
  std::vector<std::string> errors;
  walk(layers.table, "", layers.sources, out, allowed, errors);
  return errors;
}

std::string format_value(const tasker_config& config, const field& f) {
  tasker_config copy = config; // accessors hand out writable references
  auto ref = f.ref(copy);
  std::ostringstream out;
  std::visit(
      [&](auto* p) {
        using T = std::decay_t<decltype(*p)>;
        if constexpr (std::is_same_v<T, bool>)
          out << (*p ? "true" : "false");
        else if constexpr (std::is_same_v<T, std::string>)
          out << quoted(*p);
        else if constexpr (std::is_same_v<T, std::optional<int>>)
          out << (p->has_value() ? std::to_string(**p) : "(unset)");
        else if constexpr (std::is_same_v<T, double>)
          out << number_text(*p);
        else
          out << *p;
      },
      ref);
  return out.str();
}

toml::table to_toml(const tasker_config& config,
                    const std::function<bool(std::string_view)>& keep) {
  layered_table doc;
  tasker_config copy = config;
  for (const auto& f : fields()) {
    if (!keep(f.path))
      continue;
    auto ref = f.ref(copy);
    std::string text;
    if (auto* opt = std::get_if<std::optional<int>*>(&ref)) {
      if (!(*opt)->has_value())
        continue;
      text = std::to_string(***opt);
    } else if (auto* s = std::get_if<std::string*>(&ref)) {
      text = **s;
    } else if (auto* b = std::get_if<bool*>(&ref)) {
      text = **b ? "true" : "false";
    } else if (auto* i = std::get_if<int*>(&ref)) {
      text = std::to_string(**i);
    } else {
      std::ostringstream os;
      os.precision(17);
      os << *std::get<double*>(ref);
      text = os.str();
    }
    set_from_text(doc, f, text, "export");
  }
  return std::move(doc.table);
}

} // namespace tasker::config
