#pragma once
/// The subcommands of `tasker-node`; each registers itself on the CLI app and
/// sets `run` to the function main() calls when that subcommand was chosen.

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace tasker::tools {

/// What main() runs once parsing succeeded; returns the process exit code.
using command_fn = std::function<int()>;

/// `tasker-node migrate`: applies the schema migrations.
void add_migrate_command(CLI::App& app, command_fn& run);

/// `tasker-node config check|show|split`: validates, prints and converts configuration.
void add_config_command(CLI::App& app, command_fn& run);

/// `tasker-node run`: the orchestration node, until SIGINT or SIGTERM.
void add_run_command(CLI::App& app, command_fn& run);

/// `tasker-node worker`: runs step handlers for one namespace until SIGINT or SIGTERM.
void add_worker_command(CLI::App& app, command_fn& run);

/// The memory allocator this binary runs with, for the start-up log:
/// "jemalloc <version>" when built with it (TASKER_JEMALLOC), otherwise
/// "the C library's malloc".
std::string allocator_description();

} // namespace tasker::tools
