// taskerctl: operator commands that act on a Tasker deployment from outside
// the node (configuration export for workers, and more to come).
#include "tools/taskerctl/commands.hpp"
#include "tools/taskerctl/inspect_commands.hpp"

#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"taskerctl: operate a Tasker deployment"};
  app.require_subcommand(1);
  tasker::tools::ctl::command_fn run;
  tasker::tools::ctl::add_config_command(app, run);
  tasker::tools::ctl::add_template_command(app, run);
  tasker::tools::ctl::add_task_command(app, run);
  tasker::tools::ctl::add_queue_command(app, run);
  tasker::tools::ctl::add_dlq_command(app, run);
  tasker::tools::ctl::add_inspection_commands(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a "successful" parse error; every other is a usage error: exit 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return run ? run() : 2;
  } catch (const std::exception& e) {
    std::cerr << "taskerctl: " << e.what() << '\n';
    return 1;
  }
}
