#include "config/cli_options.hpp"
#include "config/commands.hpp"
#include "tools/tasker-node/commands.hpp"

#include <iostream>
#include <memory>
#include <string>

namespace tasker::tools {

void add_config_command(CLI::App& app, command_fn& run) {
  auto* config = app.add_subcommand("config", "check, show or convert the configuration");
  config->require_subcommand(1);

  auto* check = config->add_subcommand(
      "check", "validate the configuration and the executor budget (exit 2 when invalid)");
  auto check_flags = config::add_config_options(*check);
  auto offline = std::make_shared<bool>(false);
  check->add_flag("--no-database", *offline,
                  "do not connect to compare the pool with the server's limits");
  check->callback([&run, check_flags, offline] {
    run = [check_flags, offline] {
      return config::config_check(config::to_load_options(*check_flags), !*offline, std::cout,
                                  std::cerr);
    };
  });

  auto* show =
      config->add_subcommand("show", "print every value with the file or variable it came from");
  auto show_flags = config::add_config_options(*show);
  show->callback([&run, show_flags] {
    run = [show_flags] {
      return config::config_show(config::to_load_options(*show_flags), std::cout, std::cerr);
    };
  });

  auto* split =
      config->add_subcommand("split", "convert a legacy tasker-config.toml into component files");
  auto legacy = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  split->add_option("legacy", *legacy, "the single-file configuration")->required();
  split->add_option("--out", *out, "directory to write the component layout into")->required();
  split->callback([&run, legacy, out] {
    run = [legacy, out] { return config::config_split(*legacy, *out, std::cout, std::cerr); };
  });
}

} // namespace tasker::tools
