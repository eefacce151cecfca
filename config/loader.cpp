#include "config/loader.hpp"

#include "config/validate.hpp"

#include <algorithm>

extern char** environ;

namespace tasker::config {

namespace fs = std::filesystem;

namespace {

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out = "invalid configuration:";
  for (const auto& line : lines)
    out += "\n  " + line;
  return out;
}

bool is_environment_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
  });
}

std::string lookup(const env_map& vars, const std::string& name) {
  auto it = vars.find(name);
  return it == vars.end() ? std::string{} : it->second;
}

/// Decodes one layer on its own, so a wrong key, type or range in a file is
/// reported even when a later layer replaces the value (or, for a scalar
/// where a table belongs, the whole table) before the merged decode sees it.
void check_layer(const toml::table& table, const std::string& source,
                 std::vector<std::string>& errors) {
  layered_table alone;
  merge_layer(alone, table, source);
  tasker_config scratch;
  auto problems = decode(alone, scratch, [](std::string_view) { return true; });
  errors.insert(errors.end(), problems.begin(), problems.end());
}

/// `errors` without repeats, in first-seen order: a problem found in its
/// own file is found again in the merged configuration.
std::vector<std::string> without_repeats(const std::vector<std::string>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors)
    if (std::find(out.begin(), out.end(), e) == out.end())
      out.push_back(e);
  return out;
}

void merge_file(layered_table& layers, const fs::path& file, loaded_config& result,
                std::vector<std::string>& errors) {
  auto table = read_toml_file(file, errors);
  check_layer(table, file.string(), errors);
  merge_layer(layers, table, file.string());
  result.files.push_back(file);
}

/// The legacy file's `[environments.<env>]` tables overlay its base sections.
void load_legacy(layered_table& layers, const fs::path& file, loaded_config& result,
                 std::vector<std::string>& errors) {
  auto table = read_toml_file(file, errors);
  result.files.push_back(file);
  toml::table overlay;
  if (auto* envs = table["environments"].as_table()) {
    if (auto* mine = (*envs)[result.environment].as_table())
      overlay = *mine;
  } else if (table.contains("environments")) {
    errors.push_back(file.string() + ": environments: expected a table");
  }
  table.erase("environments");
  const auto overlay_source = file.string() + " [environments." + result.environment + "]";
  check_layer(table, file.string(), errors);
  check_layer(overlay, overlay_source, errors);
  merge_layer(layers, table, file.string());
  merge_layer(layers, overlay, overlay_source);
  result.legacy = true;
  result.warnings.push_back(file.string() +
                            " is the deprecated single-file configuration; convert it with "
                            "`tasker-node config split " +
                            file.string() + " --out DIR`");
}

void apply_variables(layered_table& layers, const env_map& vars, std::vector<std::string>& errors) {
  if (auto url = vars.find("TASKER_DATABASE_URL"); url != vars.end())
    if (auto err = set_from_text(layers, *find_field("database.url"), url->second, url->first))
      errors.push_back(*err);
  for (const auto& [name, value] : vars) {
    auto path = path_from_env_name(name);
    if (!path)
      continue;
    if (const field* f = find_field(*path)) {
      if (auto err = set_from_text(layers, *f, value, name))
        errors.push_back(*err);
    } else {
      errors.push_back("environment variable " + name + ": " + unknown_key(*path));
    }
  }
}

void apply_flags(layered_table& layers, const load_options& options,
                 std::vector<std::string>& errors) {
  for (const auto& assignment : options.set) {
    auto eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0) {
      errors.push_back("--set " + assignment + ": expected key.path=value");
      continue;
    }
    auto key = assignment.substr(0, eq);
    const field* f = find_field(key);
    if (f == nullptr) {
      errors.push_back("--set " + assignment + ": " + unknown_key(key));
      continue;
    }
    if (auto err = set_from_text(layers, *f, assignment.substr(eq + 1), "--set " + key))
      errors.push_back(*err);
  }
  if (!options.database_url.empty())
    if (auto err = set_from_text(layers, *find_field("database.url"), options.database_url,
                                 "--database-url"))
      errors.push_back(*err);
}

} // namespace

config_error::config_error(std::vector<std::string> errors)
    : std::runtime_error(join_lines(errors)), errors_(std::move(errors)) {}

env_map process_environment() {
  env_map out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text{*entry};
    auto eq = text.find('=');
    if (eq != std::string_view::npos)
      out.emplace(std::string{text.substr(0, eq)}, std::string{text.substr(eq + 1)});
  }
  return out;
}

fs::path default_config_dir(const env_map& variables) {
  if (auto dir = lookup(variables, "TASKER_CONFIG_DIR"); !dir.empty())
    return dir;
  std::error_code ec;
  if (fs::is_directory(TASKER_SOURCE_CONFIG_DIR, ec))
    return TASKER_SOURCE_CONFIG_DIR;
  return "/etc/tasker";
}

toml::table read_toml_file(const fs::path& file, std::vector<std::string>& errors) {
  try {
    return toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    errors.push_back(file.string() + ":" + std::to_string(e.source().begin.line) + ":" +
                     std::to_string(e.source().begin.column) + ": " + std::string{e.description()});
    return {};
  }
}

std::vector<fs::path> toml_files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return out;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".toml")
      out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

loaded_config load_config(const load_options& options) {
  const env_map vars = options.variables ? *options.variables : process_environment();
  loaded_config result;
  std::vector<std::string> errors;
  result.config_dir = !options.config_dir.empty() ? options.config_dir : default_config_dir(vars);
  result.environment = options.environment;
  if (result.environment.empty())
    result.environment = lookup(vars, "TASKER_ENV");
  if (result.environment.empty())
    result.environment = "development";
  if (!is_environment_name(result.environment))
    throw config_error(
        {"environment \"" + result.environment + "\" is not a valid name (use [a-z0-9_-])"});

  const fs::path root = result.config_dir;
  const auto components = toml_files_in(root / "tasker");
  const fs::path legacy = root / legacy_file_name;
  std::error_code ec;
  layered_table layers;
  if (!components.empty()) {
    for (const auto& file : components)
      merge_file(layers, file, result, errors);
    for (const auto& file : toml_files_in(root / "shared"))
      merge_file(layers, file, result, errors);
    const fs::path env_dir = root / "tasker" / "environments" / result.environment;
    if (!fs::is_directory(env_dir, ec))
      result.warnings.push_back("no overrides for environment \"" + result.environment + "\" (" +
                                env_dir.string() + " does not exist)");
    for (const auto& file : toml_files_in(env_dir))
      merge_file(layers, file, result, errors);
    if (fs::exists(legacy, ec))
      result.warnings.push_back(legacy.string() + " is ignored: component files exist in " +
                                (root / "tasker").string());
  } else if (fs::exists(legacy, ec)) {
    load_legacy(layers, legacy, result, errors);
  } else {
    throw config_error({"no configuration in " + root.string() + ": expected " +
                        (root / "tasker").string() + "/*.toml or " + legacy.string()});
  }

  apply_variables(layers, vars, errors);
  apply_flags(layers, options, errors);

  auto decode_errors = decode(layers, result.config, [](std::string_view) { return true; });
  errors.insert(errors.end(), decode_errors.begin(), decode_errors.end());
  result.sources = std::move(layers.sources);
  auto rule_errors = validate(result.config, result.sources);
  errors.insert(errors.end(), rule_errors.begin(), rule_errors.end());
  if (!errors.empty())
    throw config_error(without_repeats(errors));
  return result;
}

} // namespace tasker::config
