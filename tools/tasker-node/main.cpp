// tasker-node: the node binary (schema migrations, configuration tools, the
// orchestration node and the step worker).
#include "tools/tasker-node/commands.hpp"

#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"tasker-node: the Tasker orchestration node"};
  app.require_subcommand(1);
  tasker::tools::command_fn run;
  tasker::tools::add_migrate_command(app, run);
  tasker::tools::add_config_command(app, run);
  tasker::tools::add_run_command(app, run);
  tasker::tools::add_worker_command(app, run);
  CLI11_PARSE(app, argc, argv);
  try {
    return run ? run() : 2;
  } catch (const std::exception& e) {
    std::cerr << "tasker-node: " << e.what() << '\n';
    return 1;
  }
}
