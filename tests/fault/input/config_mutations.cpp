#include "tests/fault/input/config_mutations.hpp"

#include "config/schema.hpp"

#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

namespace tasker::fault {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines)
    out += l + "\n";
  return out;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos)
    return {};
  auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

/// One `key = value` line of a file, with the table it sits in.
struct key_line {
  std::string file;
  std::size_t line = 0; ///< index into the file's lines
  std::string section;  ///< "" at the top level
  std::string key;
  std::string dotted;                    ///< section.key
  const config::field* schema = nullptr; ///< null for keys the schema does not know
};

/// One `[header]` line of a file.
struct header_line {
  std::string file;
  std::size_t line = 0;
  std::string section;
};

struct tree_index {
  std::vector<key_line> keys;
  std::vector<header_line> headers;
};

tree_index index_tree(const config_tree& tree) {
  tree_index idx;
  for (const auto& [file, text] : tree) {
    auto lines = split_lines(text);
    std::string section;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      auto t = trim(lines[i]);
      if (t.empty() || t[0] == '#')
        continue;
      if (t[0] == '[') {
        section = trim(t.substr(1, t.find(']') - 1));
        idx.headers.push_back({file, i, section});
        continue;
      }
      auto eq = t.find('=');
      if (eq == std::string::npos)
        continue;
      key_line k{file, i, section, trim(t.substr(0, eq)), "", nullptr};
      k.dotted = section.empty() ? k.key : section + "." + k.key;
      k.schema = config::find_field(k.dotted);
      idx.keys.push_back(k);
    }
  }
  return idx;
}

template <class T>
const T& pick(const std::vector<T>& v, std::mt19937& rng) {
  if (v.empty())
    throw std::logic_error("config fuzz: nothing to pick from");
  return v[std::uniform_int_distribution<std::size_t>{0, v.size() - 1}(rng)];
}

int uniform(std::mt19937& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>{lo, hi}(rng);
}

bool is_number_kind(const config::field& f) {
  return f.kind == config::value_kind::integer || f.kind == config::value_kind::floating ||
         f.kind == config::value_kind::optional_integer;
}

std::string number_text(double v, bool integer) {
  if (integer)
    return std::to_string(static_cast<long long>(v));
  std::ostringstream out;
  out << v;
  auto s = out.str();
  if (s.find_first_of(".e") == std::string::npos)
    s += ".0";
  return s;
}

/// Replaces the value of `k` (keeps the key, drops any trailing comment).
void set_value(config_tree& tree, const key_line& k, const std::string& value) {
  auto lines = split_lines(tree[k.file]);
  lines[k.line] = k.key + " = " + value;
  tree[k.file] = join_lines(lines);
}

void insert_line(config_tree& tree, const std::string& file, std::size_t at,
                 const std::string& text) {
  auto lines = split_lines(tree[file]);
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(std::min(at, lines.size())), text);
  tree[file] = join_lines(lines);
}

std::string where(const std::string& file, std::size_t line) {
  return file + " line " + std::to_string(line + 1);
}

using mutator = std::function<mutation(config_tree&, const tree_index&, std::mt19937&)>;

/// Keys of the schema with a numeric type.
std::vector<key_line> numeric_keys(const tree_index& idx) {
  std::vector<key_line> out;
  for (const auto& k : idx.keys)
    if (k.schema != nullptr && is_number_kind(*k.schema))
      out.push_back(k);
  return out;
}

std::vector<key_line> known_keys(const tree_index& idx) {
  std::vector<key_line> out;
  for (const auto& k : idx.keys)
    if (k.schema != nullptr)
      out.push_back(k);
  return out;
}

mutation value_mutation(config_tree& tree, const key_line& k, const std::string& kind,
                        const std::string& value, bool may_stay_valid) {
  set_value(tree, k, value);
  return {kind,  k.file,         k.dotted,
          false, may_stay_valid, where(k.file, k.line) + ": " + k.dotted + " = " + value};
}

const std::vector<std::pair<int, mutator>>& mutators() {
  using config::value_kind;
  static const std::vector<std::pair<int, mutator>> all{
      {6,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         auto k = pick(known_keys(idx), rng);
         std::string v = k.schema->kind == value_kind::string    ? "42"
                         : k.schema->kind == value_kind::boolean ? "\"yes\""
                                                                 : "\"twelve\"";
         return value_mutation(t, k, "wrong type", v, false);
       }},
      {5,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         auto k = pick(numeric_keys(idx), rng);
         bool integer = k.schema->kind != value_kind::floating;
         bool above = uniform(rng, 0, 1) == 1 || k.schema->min <= 0;
         double v = above ? k.schema->max + (integer ? 1 : k.schema->max + 1)
                          : k.schema->min - (integer ? 1 : k.schema->min / 2);
         return value_mutation(t, k, "out of range", number_text(v, integer), false);
       }},
      {4,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         auto k = pick(numeric_keys(idx), rng);
         bool integer = k.schema->kind != value_kind::floating;
         double v = -uniform(rng, 1, 100000);
         return value_mutation(t, k, "negative number", number_text(v, integer),
                               k.schema->min <= v);
       }},
      {5,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         static const std::vector<std::string> huge{"99999999999999999999999",
                                                    "9223372036854775807",
                                                    "-9223372036854775808",
                                                    "1e308",
                                                    "inf",
                                                    "-inf",
                                                    "nan",
                                                    "0x7fffffffffffffff",
                                                    "1_000_000_000_000"};
         auto k = pick(known_keys(idx), rng);
         return value_mutation(t, k, "huge number", pick(huge, rng), false);
       }},
      {3,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         std::vector<key_line> ints;
         for (const auto& k : numeric_keys(idx))
           if (k.schema->kind != value_kind::floating)
             ints.push_back(k);
         return value_mutation(t, pick(ints, rng), "fraction for an integer", "2.5", false);
       }},
      {4,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         static const std::vector<std::string> arrays{"[1, \"two\", 3.0]", "[]", "[[1], [2]]",
                                                      "[true, false]", "[\"a\", \"b\"]"};
         return value_mutation(t, pick(known_keys(idx), rng), "array for a scalar",
                               pick(arrays, rng), false);
       }},
      {3,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         return value_mutation(t, pick(known_keys(idx), rng), "table for a scalar",
                               "{ nested = 1, deeper = { x = \"y\" } }", false);
       }},
      {3,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         // The key becomes a [table] of its own, further down the file.
         auto k = pick(known_keys(idx), rng);
         auto lines = split_lines(t[k.file]);
         lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(k.line));
         lines.push_back("[" + k.dotted + "]");
         lines.push_back("value = 1");
         t[k.file] = join_lines(lines);
         return mutation{"section for a scalar",
                         k.file,
                         k.dotted,
                         false,
                         false,
                         k.file + ": [" + k.dotted + "] replaces the key"};
       }},
      {4,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         auto k = pick(known_keys(idx), rng);
         auto typo = k.key + (uniform(rng, 0, 1) ? "_typo" : "s");
         auto lines = split_lines(t[k.file]);
         lines[k.line] = typo + " = 1";
         t[k.file] = join_lines(lines);
         auto dotted = k.section.empty() ? typo : k.section + "." + typo;
         return mutation{"misspelt key", k.file, dotted,
                         false,          false,  where(k.file, k.line) + ": " + dotted};
       }},
      {4,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         auto h = pick(idx.headers, rng);
         auto key = "surprise_" + std::to_string(uniform(rng, 0, 9999));
         insert_line(t, h.file, h.line + 1, key + " = 1");
         return mutation{"unknown key", h.file, h.section + "." + key,
                         false,         false,  where(h.file, h.line + 1) + ": " + key};
       }},
      {3,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         auto h = pick(idx.headers, rng);
         bool nested = uniform(rng, 0, 1) == 1;
         auto section = (nested ? h.section + "." : std::string{}) + "surprise_section_" +
                        std::to_string(uniform(rng, 0, 9999));
         t[h.file] += "\n[" + section + "]\nvalue = 1\n";
         return mutation{
             "unknown section", h.file, section, false, false, h.file + ": [" + section + "]"};
       }},
      {3,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         // [[x]] turns a table into an array of tables.
         auto h = pick(idx.headers, rng);
         auto lines = split_lines(t[h.file]);
         lines[h.line] = "[[" + h.section + "]]";
         t[h.file] = join_lines(lines);
         return mutation{"array of tables",
                         h.file,
                         h.section,
                         false,
                         false,
                         where(h.file, h.line) + ": [[" + h.section + "]]"};
       }},
      {6,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         auto k = pick(idx.keys, rng);
         static const std::vector<std::string> broken{"@KEY 5",          "@KEY = \"unterminated",
                                                      "@KEY =",          "= 5",
                                                      "@KEY = 1 2",      "[@SECTION",
                                                      "@KEY = [1, 2",    "@KEY = {a = 1",
                                                      "not toml at all", "@KEY = 'x' 'y'",
                                                      "@KEY = 0777x",    "@KEY = tru"};
         auto text = pick(broken, rng);
         for (auto [from, to] : {std::pair<std::string, std::string>{"@KEY", k.key},
                                 {"@SECTION", k.section.empty() ? "x" : k.section}})
           if (auto p = text.find(from); p != std::string::npos)
             text.replace(p, from.size(), to);
         auto lines = split_lines(t[k.file]);
         lines[k.line] = text;
         t[k.file] = join_lines(lines);
         return mutation{
             "broken syntax", k.file, "", true, false, where(k.file, k.line) + ": " + text};
       }},
      {4,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         auto k = pick(idx.keys, rng);
         auto lines = split_lines(t[k.file]);
         lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(k.line) + 1, lines[k.line]);
         t[k.file] = join_lines(lines);
         return mutation{"duplicate key", k.file,
                         k.dotted,        true,
                         false,           where(k.file, k.line + 1) + ": " + k.dotted + " again"};
       }},
      {2,
       [](config_tree& t, const tree_index& idx, std::mt19937& rng) {
         auto h = pick(idx.headers, rng);
         t[h.file] += "\n[" + h.section + "]\n";
         return mutation{"duplicate table",
                         h.file,
                         h.section,
                         true,
                         false,
                         h.file + ": [" + h.section + "] again at the end"};
       }},
      {4,
       [](config_tree& t, const tree_index&, std::mt19937& rng) {
         std::vector<std::string> files;
         for (const auto& [f, text] : t)
           if (text.size() > 1)
             files.push_back(f);
         auto file = pick(files, rng);
         auto cut = std::uniform_int_distribution<std::size_t>{1, t[file].size() - 1}(rng);
         t[file].resize(cut);
         return mutation{"truncated file",
                         file,
                         "",
                         false,
                         true,
                         file + " cut after byte " + std::to_string(cut)};
       }},
      {4,
       [](config_tree& t, const tree_index&, std::mt19937& rng) {
         std::vector<std::string> files;
         for (const auto& [f, text] : t)
           files.push_back(f);
         auto file = pick(files, rng);
         std::string garbage;
         auto n = uniform(rng, 8, 512);
         for (int i = 0; i < n; ++i)
           garbage += static_cast<char>(uniform(rng, 0, 255));
         garbage[0] = '\x01'; // never whitespace or a comment: always a syntax error
         bool replace = uniform(rng, 0, 1) == 1;
         auto at = replace ? 0 : std::uniform_int_distribution<std::size_t>{0, t[file].size()}(rng);
         if (replace)
           t[file] = garbage;
         else
           t[file].insert(at, garbage);
         return mutation{"binary garbage",
                         file,
                         "",
                         true,
                         false,
                         file + ": " + std::to_string(n) + " random bytes " +
                             (replace ? "replace the file" : "at byte " + std::to_string(at))};
       }},
      {1,
       [](config_tree& t, const tree_index&, std::mt19937& rng) {
         std::vector<std::string> files;
         for (const auto& [f, text] : t)
           files.push_back(f);
         auto file = pick(files, rng);
         t[file].clear();
         return mutation{"empty file", file, "", false, true, file + " emptied"};
       }},
      {6,
       [](config_tree& t, const tree_index&, std::mt19937& rng) {
         // Budget: the test environment's pools must fit max_connections - reserved.
         static const std::vector<std::string> pools{"task_request_processor", "task_claimer",
                                                     "step_enqueuer", "step_result_processor",
                                                     "task_finalizer"};
         const std::string pools_file = "tasker/environments/test/executor_pools.toml";
         const std::string db_file = "tasker/environments/test/database.toml";
         auto pool = pick(pools, rng);
         switch (uniform(rng, 0, 3)) {
         case 0: {
           auto n = uniform(rng, 8, 1000);
           auto header = "[executor_pools." + pool + "]";
           auto p = t[pools_file].find("max_executors = 1", t[pools_file].find(header));
           t[pools_file].replace(p, 17, "max_executors = " + std::to_string(n));
           return mutation{"budget: pool too large",
                           pools_file,
                           "executor_pools." + pool + ".max_executors",
                           false,
                           false,
                           pools_file + ": " + pool + ".max_executors = " + std::to_string(n)};
         }
         case 1: {
           auto header = "[executor_pools." + pool + "]";
           auto p = t[pools_file].find(header);
           t[pools_file].insert(p + header.size(), "\nmin_executors = 5");
           return mutation{"budget: min above max",
                           pools_file,
                           "executor_pools." + pool + ".min_executors",
                           false,
                           false,
                           pools_file + ": " + pool + ".min_executors = 5 over max 1"};
         }
         case 2: {
           auto n = uniform(rng, 1, 7);
           auto lines = split_lines(t[db_file]);
           for (auto& l : lines)
             if (l.rfind("max_connections", 0) == 0)
               l = "max_connections = " + std::to_string(n);
           t[db_file] = join_lines(lines);
           return mutation{"budget: pool too small",
                           db_file,
                           "database.pool.max_connections",
                           false,
                           false,
                           db_file + ": database.pool.max_connections = " + std::to_string(n)};
         }
         default: {
           auto lines = split_lines(t[db_file]);
           for (auto& l : lines)
             if (l.rfind("reserved_connections", 0) == 0)
               l = "reserved_connections = " + std::to_string(uniform(rng, 6, 10));
           t[db_file] = join_lines(lines);
           return mutation{"budget: reserved leaves too few",
                           db_file,
                           "database.pool.reserved_connections",
                           false,
                           false,
                           db_file + ": database.pool.reserved_connections raised"};
         }
         }
       }},
  };
  return all;
}

} // namespace

config_tree read_config_tree(const fs::path& root, const std::string& env) {
  config_tree tree;
  for (const auto& dir :
       {fs::path{"tasker"}, fs::path{"tasker"} / "environments" / env, fs::path{"shared"}}) {
    if (!fs::is_directory(root / dir))
      continue;
    for (const auto& entry : fs::directory_iterator(root / dir)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".toml")
        continue;
      std::ifstream in{entry.path(), std::ios::binary};
      std::ostringstream text;
      text << in.rdbuf();
      tree[(dir / entry.path().filename()).string()] = text.str();
    }
  }
  return tree;
}

void write_config_tree(const fs::path& root, const config_tree& tree) {
  for (const auto& [file, text] : tree) {
    fs::create_directories((root / file).parent_path());
    std::ofstream out{root / file, std::ios::binary};
    out << text;
    if (!out)
      throw std::runtime_error("cannot write " + (root / file).string());
  }
}

mutation mutate(config_tree& tree, std::mt19937& rng) {
  const auto& all = mutators();
  std::vector<int> weights;
  for (const auto& [w, m] : all)
    weights.push_back(w);
  std::discrete_distribution<std::size_t> which{weights.begin(), weights.end()};
  auto idx = index_tree(tree);
  return all[which(rng)].second(tree, idx, rng);
}

} // namespace tasker::fault
