#pragma once
/// The subcommands of `taskerctl`, the operator's tool; each registers itself
/// on the CLI app and sets `run` to what main() calls once parsing succeeded.

#include <CLI/CLI.hpp>

#include <functional>

namespace tasker::tools::ctl {

/// What main() runs once parsing succeeded; returns the process exit code.
using command_fn = std::function<int()>;

/// `taskerctl config export-worker`: writes the worker subset of the configuration.
void add_config_command(CLI::App& app, command_fn& run);

} // namespace tasker::tools::ctl
