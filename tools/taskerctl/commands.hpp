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

/// `taskerctl template register|list|show`: the task template registry.
void add_template_command(CLI::App& app, command_fn& run);

/// `taskerctl task submit|status|list|cancel|retry|resolve`: tasks.
void add_task_command(CLI::App& app, command_fn& run);

/// `taskerctl queue stats`: every queue's depth, age, throughput and dead letters.
void add_queue_command(CLI::App& app, command_fn& run);

/// `taskerctl dlq list|redrive`: dead-lettered messages.
void add_dlq_command(CLI::App& app, command_fn& run);

} // namespace tasker::tools::ctl
