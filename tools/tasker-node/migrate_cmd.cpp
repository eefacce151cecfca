#include "resources/migrate.hpp"
#include "tools/tasker-node/commands.hpp"

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

namespace tasker::tools {

void add_migrate_command(CLI::App& app, command_fn& run) {
  auto url = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("migrate", "apply the database schema migrations");
  cmd->add_option("--database-url", *url, "libpq URL (default: $TASKER_DATABASE_URL)");
  cmd->callback([&run, url] {
    run = [url] {
      std::string target = *url;
      if (target.empty())
        if (const char* env = std::getenv("TASKER_DATABASE_URL"))
          target = env;
      if (target.empty()) {
        std::cerr << "tasker-node migrate: no database: pass --database-url or set "
                     "TASKER_DATABASE_URL\n";
        return 2;
      }
      pqxx::connection conn{target};
      auto applied = resources::apply_migrations(conn);
      for (const auto& name : applied)
        std::cout << "applied " << name << '\n';
      std::cout << "schema is current (" << resources::migrations().size()
                << " migrations, " << applied.size() << " applied now)\n";
      return 0;
    };
  });
}

} // namespace tasker::tools
