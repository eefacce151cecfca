#pragma once
/// The options every configuration-reading subcommand shares (--env,
/// --config-dir, --database-url, --set), added to a CLI11 subcommand in one
/// call so `config check`, `run` and `worker` read configuration alike.

#include "config/loader.hpp"

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace tasker::config {

/// The values of the shared options after parsing.
struct cli_config_options {
  std::string environment;      ///< --env
  std::string config_dir;       ///< --config-dir
  std::string database_url;     ///< --database-url
  std::vector<std::string> set; ///< --set key.path=value (repeatable)
};

/// Adds --env, --config-dir, --set and (unless `with_database_url` is false)
/// --database-url to `cmd`. The returned object is filled in when CLI11 parses.
std::shared_ptr<cli_config_options> add_config_options(CLI::App& cmd,
                                                       bool with_database_url = true);

/// The load options the parsed flags describe (the process environment supplies the rest).
load_options to_load_options(const cli_config_options& flags);

/// Loads the configuration the flags describe, printing each warning to
/// `warnings`; throws config_error like load_config.
loaded_config load_from_cli(const cli_config_options& flags, std::ostream& warnings);

} // namespace tasker::config
