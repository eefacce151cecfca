// taskerctl: operator commands that act on a Tasker deployment from outside
// the node (configuration export for workers, and more to come).
#include "tools/taskerctl/commands.hpp"

#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"taskerctl: operate a Tasker deployment"};
  app.require_subcommand(1);
  tasker::tools::ctl::command_fn run;
  tasker::tools::ctl::add_config_command(app, run);
  CLI11_PARSE(app, argc, argv);
  try {
    return run ? run() : 2;
  } catch (const std::exception& e) {
    std::cerr << "taskerctl: " << e.what() << '\n';
    return 1;
  }
}
