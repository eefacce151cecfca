#pragma once
/// Loads the node configuration. Layers, each overriding the one before:
///   1. component files      <root>/tasker/*.toml, then <root>/shared/*.toml
///      (or the legacy single file <root>/tasker-config.toml, deprecated)
///   2. environment files    <root>/tasker/environments/<env>/*.toml
///   3. variables            TASKER_DATABASE_URL, TASKER_<SECTION>__<KEY>...
///   4. command-line flags   --set key.path=value, --database-url URL
/// Every error of every layer is collected before loading fails.

#include "config/layers.hpp"
#include "config/tasker_config.hpp"

#include <toml++/toml.h>

#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tasker::config {

/// Environment variables by name.
using env_map = std::map<std::string, std::string>;

/// A snapshot of the process environment.
env_map process_environment();

/// Name of the legacy single-file configuration inside a config root.
inline constexpr const char* legacy_file_name = "tasker-config.toml";

/// What to load and which overrides to apply on top of the files.
struct load_options {
  std::filesystem::path
      config_dir;          ///< empty: $TASKER_CONFIG_DIR, the source tree's config/, /etc/tasker
  std::string environment; ///< empty: $TASKER_ENV, else "development"
  std::optional<env_map> variables; ///< the variables to read; empty: the process environment
  std::vector<std::string> set;     ///< "key.path=value" overrides, applied last but one
  std::string database_url;         ///< --database-url, applied last
};

/// A loaded configuration and where each of its values came from.
struct loaded_config {
  tasker_config config;                     ///< the typed values
  provenance sources;                       ///< key path -> file, variable or flag
  std::vector<std::string> warnings;        ///< e.g. the legacy-file deprecation
  std::filesystem::path config_dir;         ///< the root that was read
  std::string environment;                  ///< the environment that was applied
  bool legacy = false;                      ///< read from tasker-config.toml
  std::vector<std::filesystem::path> files; ///< every file read, in merge order
};

/// Loading failed; carries every problem found, each naming its file or variable.
class config_error : public std::runtime_error {
public:
  /// Wraps `errors` (at least one); what() lists them one per line.
  explicit config_error(std::vector<std::string> errors);

  /// Every problem, in the order found.
  const std::vector<std::string>& errors() const noexcept { return errors_; }

private:
  std::vector<std::string> errors_;
};

/// The config root chosen when no --config-dir is given: $TASKER_CONFIG_DIR,
/// else the source tree's config/ when it exists, else /etc/tasker.
std::filesystem::path default_config_dir(const env_map& variables);

/// Parses one TOML file; a syntax error is appended to `errors` as
/// "file:line:column: description" and an empty table returned.
toml::table read_toml_file(const std::filesystem::path& file, std::vector<std::string>& errors);

/// Every `*.toml` directly inside `dir`, sorted by name (none when `dir` is missing).
std::vector<std::filesystem::path> toml_files_in(const std::filesystem::path& dir);

/// Loads, merges, decodes and validates; throws config_error listing every problem.
loaded_config load_config(const load_options& options = {});

} // namespace tasker::config
