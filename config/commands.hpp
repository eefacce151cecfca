#pragma once
/// The `config` subcommands as library functions: each takes its inputs and
/// two streams and returns the process exit code (0 ok, 2 invalid
/// configuration), so they are tested without spawning a process.

#include "config/loader.hpp"

#include <filesystem>
#include <iosfwd>

namespace tasker::config {

/// Exit code for a configuration that does not load or does not fit.
inline constexpr int exit_invalid_config = 2;

/// `config check`: loads and validates, checks the executor budget (and,
/// when `probe_database` and a database URL is set, the server's limits);
/// prints a short summary, or every error.
int config_check(const load_options& options, bool probe_database, std::ostream& out,
                 std::ostream& err);

/// `config show`: every key with its value and the file or variable it came
/// from; passwords redacted.
int config_show(const load_options& options, std::ostream& out, std::ostream& err);

/// `config split`: converts a legacy tasker-config.toml into component files.
int config_split(const std::filesystem::path& legacy_file, const std::filesystem::path& out_dir,
                 std::ostream& out, std::ostream& err);

/// `config export-worker`: writes the worker subset of the loaded configuration.
int config_export_worker(const load_options& options, const std::filesystem::path& out_dir,
                         std::ostream& out, std::ostream& err);

} // namespace tasker::config
