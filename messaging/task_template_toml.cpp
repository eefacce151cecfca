// Reading a task template from TOML. Structure (keys, types) is checked here,
// where the line of the offending key is known; the rules on values live in
// validate_template so the JSON form obeys them too.
#include "messaging/task_template.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>

namespace tasker::messaging {

namespace {

using nlohmann::json;

std::string_view type_name(toml::node_type type) {
  switch (type) {
  case toml::node_type::table:
    return "table";
  case toml::node_type::array:
    return "array";
  case toml::node_type::string:
    return "string";
  case toml::node_type::integer:
    return "integer";
  case toml::node_type::floating_point:
    return "float";
  case toml::node_type::boolean:
    return "boolean";
  case toml::node_type::date:
    return "date";
  case toml::node_type::time:
    return "time";
  case toml::node_type::date_time:
    return "date-time";
  case toml::node_type::none:
    break;
  }
  return "nothing";
}

std::string join(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string{key} : std::string{prefix} + "." + std::string{key};
}

// Reads one TOML table strictly, naming the source, key path and line in
// every error.
class table_reader {
public:
  table_reader(std::string source, const toml::node& node, std::string path,
               std::initializer_list<std::string_view> keys)
      : source_(std::move(source)), path_(std::move(path)) {
    table_ = node.as_table();
    if (table_ == nullptr)
      fail(path_, node, "expected table, got " + std::string{type_name(node.type())});
    for (auto&& [key, value] : *table_)
      if (std::find(keys.begin(), keys.end(), key.str()) == keys.end())
        fail(join(path_, key.str()), value, "unknown key (allowed: " + allowed(keys) + ")");
  }

  const toml::node* find(std::string_view key, bool required) const {
    const toml::node* node = table_->get(key);
    if (node == nullptr && required)
      fail(join(path_, key), *table_, "required key is missing");
    return node;
  }

  const toml::node& expect(std::string_view key, const toml::node& node,
                           toml::node_type type) const {
    if (node.type() != type)
      fail(join(path_, key), node,
           "expected " + std::string{type_name(type)} + ", got " +
               std::string{type_name(node.type())});
    return node;
  }

  void read(std::string_view key, std::string& out, bool required) const {
    if (const auto* n = find(key, required))
      out = expect(key, *n, toml::node_type::string).as_string()->get();
  }

  void read(std::string_view key, bool& out) const {
    if (const auto* n = find(key, false))
      out = expect(key, *n, toml::node_type::boolean).as_boolean()->get();
  }

  void read(std::string_view key, std::int32_t& out) const {
    if (const auto* n = find(key, false)) {
      auto value = expect(key, *n, toml::node_type::integer).as_integer()->get();
      if (value < std::numeric_limits<std::int32_t>::min() ||
          value > std::numeric_limits<std::int32_t>::max())
        fail(join(path_, key), *n, "integer " + std::to_string(value) + " does not fit in 32 bits");
      out = static_cast<std::int32_t>(value);
    }
  }

  // A fraction may be written as 0 or 1, so integers are accepted too.
  void read(std::string_view key, double& out) const {
    if (const auto* n = find(key, false)) {
      if (const auto* i = n->as_integer())
        out = static_cast<double>(i->get());
      else
        out = expect(key, *n, toml::node_type::floating_point).as_floating_point()->get();
    }
  }

  [[noreturn]] void fail(const std::string& key, const toml::node& at,
                         const std::string& problem) const {
    auto line = at.source().begin.line;
    throw template_error(source_, key,
                         line > 0 ? problem + " (line " + std::to_string(line) + ")" : problem);
  }

  const std::string& source() const { return source_; }
  const std::string& path() const { return path_; }

private:
  static std::string allowed(std::initializer_list<std::string_view> keys) {
    std::string out;
    for (auto k : keys)
      out += (out.empty() ? "" : ", ") + std::string{k};
    return out;
  }

  std::string source_;
  std::string path_;
  const toml::table* table_ = nullptr;
};

json to_json_value(const table_reader& r, const std::string& key, const toml::node& node) {
  switch (node.type()) {
  case toml::node_type::table: {
    json out = json::object();
    for (auto&& [k, v] : *node.as_table())
      out[std::string{k.str()}] = to_json_value(r, join(key, k.str()), v);
    return out;
  }
  case toml::node_type::array: {
    json out = json::array();
    const auto& arr = *node.as_array();
    for (std::size_t i = 0; i < arr.size(); ++i)
      out.push_back(to_json_value(r, key + "[" + std::to_string(i) + "]", arr[i]));
    return out;
  }
  case toml::node_type::string:
    return node.as_string()->get();
  case toml::node_type::integer:
    return node.as_integer()->get();
  case toml::node_type::boolean:
    return node.as_boolean()->get();
  case toml::node_type::floating_point: {
    double d = node.as_floating_point()->get();
    if (!std::isfinite(d))
      r.fail(key, node, "inf and nan cannot be represented in JSON");
    return d;
  }
  case toml::node_type::date:
  case toml::node_type::time:
  case toml::node_type::date_time: {
    // JSON has no date type: keep the RFC 3339 text the author wrote.
    std::ostringstream text;
    if (const auto* d = node.as_date())
      text << d->get();
    else if (const auto* t = node.as_time())
      text << t->get();
    else if (const auto* dt = node.as_date_time())
      text << dt->get();
    return text.str();
  }
  case toml::node_type::none:
    break;
  }
  return nullptr;
}

step_template read_step(const std::string& source, const toml::node& node, std::size_t index) {
  table_reader r{source,
                 node,
                 "steps[" + std::to_string(index) + "]",
                 {"name", "handler", "depends_on", "retryable", "retry_limit", "timeout_seconds",
                  "backoff", "inputs"}};
  step_template step;
  r.read("name", step.name, true);
  r.read("handler", step.handler, true);
  if (const auto* deps = r.find("depends_on", false)) {
    const auto& arr = *r.expect("depends_on", *deps, toml::node_type::array).as_array();
    for (std::size_t k = 0; k < arr.size(); ++k) {
      std::string key = "depends_on[" + std::to_string(k) + "]";
      step.depends_on.push_back(r.expect(key, arr[k], toml::node_type::string).as_string()->get());
    }
  }
  r.read("retryable", step.retryable);
  r.read("retry_limit", step.retry_limit);
  r.read("timeout_seconds", step.timeout_seconds);
  if (const auto* b = r.find("backoff", false)) {
    table_reader br{source, *b, join(r.path(), "backoff"), {"base_ms", "max_ms", "jitter"}};
    br.read("base_ms", step.backoff.base_ms);
    br.read("max_ms", step.backoff.max_ms);
    br.read("jitter", step.backoff.jitter);
  }
  if (const auto* in = r.find("inputs", false)) {
    r.expect("inputs", *in, toml::node_type::table);
    step.inputs = to_json_value(r, join(r.path(), "inputs"), *in);
  }
  return step;
}

} // namespace

task_template parse_template_toml(std::string_view toml_text, std::string_view source_name) {
  std::string source{source_name};
  toml::table doc;
  try {
    doc = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    throw template_error(source, "",
                         "TOML syntax error at line " + std::to_string(at.line) + ", column " +
                             std::to_string(at.column) + ": " + std::string{e.description()});
  }
  table_reader r{source, doc, "", {"namespace", "name", "version", "description", "steps"}};
  task_template t;
  r.read("namespace", t.namespace_name, true);
  r.read("name", t.name, true);
  r.read("version", t.version, true);
  r.read("description", t.description, false);
  const auto* steps = r.find("steps", true);
  const auto& arr = *r.expect("steps", *steps, toml::node_type::array).as_array();
  for (std::size_t i = 0; i < arr.size(); ++i)
    t.steps.push_back(read_step(source, arr[i], i));
  validate_template(t, source);
  return t;
}

task_template load_template_file(const std::filesystem::path& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw template_error(path.string(), "", "cannot open the file for reading");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    throw template_error(path.string(), "", "reading the file failed");
  return parse_template_toml(text.str(), path.string());
}

} // namespace tasker::messaging
