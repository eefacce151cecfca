#include "config/split.hpp"

#include "config/loader.hpp"

#include <array>
#include <fstream>
#include <string_view>

namespace tasker::config {

namespace fs = std::filesystem;

namespace {

constexpr std::array<std::string_view, 6> sections{
    "database", "orchestration", "executor_pools", "circuit_breakers", "queues", "telemetry"};

bool is_known_section(std::string_view name) {
  return std::find(sections.begin(), sections.end(), name) != sections.end();
}

class writer {
public:
  writer(fs::path legacy) : legacy_(std::move(legacy)) {}

  void write(const fs::path& file, const toml::table& content) {
    fs::create_directories(file.parent_path());
    std::ofstream out{file};
    out << "# Split from " << legacy_.string() << "; docs/configuration.md describes every key.\n\n"
        << toml::toml_formatter{content} << '\n';
    if (!out)
      throw config_error({"cannot write " + file.string()});
    written_.push_back(file);
  }

  /// One file per section of `doc`; queue names go to `names_file` when given.
  void write_sections(const toml::table& doc, const fs::path& dir, const fs::path& names_file) {
    for (auto&& [key, node] : doc) {
      toml::table section = *node.as_table();
      if (key.str() == "queues" && !names_file.empty()) {
        if (auto* names = section["names"].as_table()) {
          toml::table shared;
          shared.insert("queues", toml::table{{"names", *names}});
          write(names_file, shared);
          section.erase("names");
        }
        if (section.empty())
          continue;
      }
      toml::table content;
      content.insert(key, std::move(section));
      write(dir / (std::string{key.str()} + ".toml"), content);
    }
  }

  std::vector<fs::path> files() && { return std::move(written_); }

private:
  fs::path legacy_;
  std::vector<fs::path> written_;
};

/// Every top-level key of `doc` must be a known section and a table.
void check_sections(const toml::table& doc, const std::string& where,
                    std::vector<std::string>& errors) {
  for (auto&& [key, node] : doc) {
    if (!is_known_section(key.str()))
      errors.push_back(where + ": unknown section " + std::string{key.str()});
    else if (!node.is_table())
      errors.push_back(where + ": " + std::string{key.str()} + ": expected a table");
  }
}

} // namespace

std::vector<fs::path> split_legacy(const fs::path& legacy_file, const fs::path& out_dir) {
  std::vector<std::string> errors;
  std::error_code ec;
  if (!fs::is_regular_file(legacy_file, ec))
    throw config_error({legacy_file.string() + ": no such file"});
  toml::table doc = read_toml_file(legacy_file, errors);
  if (!errors.empty())
    throw config_error(std::move(errors));
  if (!toml_files_in(out_dir / "tasker").empty())
    throw config_error({(out_dir / "tasker").string() +
                        " already holds component files; choose an empty --out directory"});

  toml::table environments;
  if (auto* envs = doc["environments"].as_table())
    environments = *envs;
  else if (doc.contains("environments"))
    errors.push_back(legacy_file.string() + ": environments: expected a table");
  doc.erase("environments");
  check_sections(doc, legacy_file.string(), errors);
  for (auto&& [env, node] : environments) {
    auto where = legacy_file.string() + " [environments." + std::string{env.str()} + "]";
    if (const auto* table = node.as_table())
      check_sections(*table, where, errors);
    else
      errors.push_back(where + ": expected a table");
  }
  if (!errors.empty())
    throw config_error(std::move(errors));

  writer w{legacy_file};
  w.write_sections(doc, out_dir / "tasker", out_dir / "shared" / "queue_names.toml");
  for (auto&& [env, node] : environments) {
    auto dir = out_dir / "tasker" / "environments" / std::string{env.str()};
    fs::create_directories(dir);
    // An environment keeps its own queue-name overrides beside its other files.
    w.write_sections(*node.as_table(), dir, {});
  }
  return std::move(w).files();
}

} // namespace tasker::config
