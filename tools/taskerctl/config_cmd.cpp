#include "config/cli_options.hpp"
#include "config/commands.hpp"
#include "tools/taskerctl/commands.hpp"

#include <iostream>
#include <memory>
#include <string>

namespace tasker::tools::ctl {

void add_config_command(CLI::App& app, command_fn& run) {
  auto* config = app.add_subcommand("config", "configuration for other deployables");
  config->require_subcommand(1);

  auto* worker = config->add_subcommand(
      "export-worker", "write the configuration a step worker needs (no orchestration keys)");
  // The URL is never exported, so --database-url would have no effect here.
  auto flags = config::add_config_options(*worker, false);
  auto out = std::make_shared<std::string>();
  worker->add_option("--out", *out, "directory to write the worker's TOML files into")->required();
  worker->callback([&run, flags, out] {
    run = [flags, out] {
      return config::config_export_worker(config::to_load_options(*flags), *out, std::cout,
                                          std::cerr);
    };
  });
}

} // namespace tasker::tools::ctl
