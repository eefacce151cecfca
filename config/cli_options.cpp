#include "config/cli_options.hpp"

#include <ostream>

namespace tasker::config {

std::shared_ptr<cli_config_options> add_config_options(CLI::App& cmd, bool with_database_url) {
  auto flags = std::make_shared<cli_config_options>();
  cmd.add_option("--env", flags->environment,
                 "environment whose overrides apply (default: $TASKER_ENV, else development)");
  cmd.add_option("--config-dir", flags->config_dir,
                 "configuration root (default: $TASKER_CONFIG_DIR, the source tree's config/, "
                 "else /etc/tasker)");
  cmd.add_option("--set", flags->set, "override one key, e.g. --set queues.read_batch_size=20")
      ->take_all();
  if (with_database_url)
    cmd.add_option("--database-url", flags->database_url,
                   "libpq URL (default: $TASKER_DATABASE_URL or database.url)");
  return flags;
}

load_options to_load_options(const cli_config_options& flags) {
  load_options options;
  options.config_dir = flags.config_dir;
  options.environment = flags.environment;
  options.set = flags.set;
  options.database_url = flags.database_url;
  return options;
}

loaded_config load_from_cli(const cli_config_options& flags, std::ostream& warnings) {
  auto loaded = load_config(to_load_options(flags));
  for (const auto& w : loaded.warnings)
    warnings << "warning: " << w << '\n';
  return loaded;
}

} // namespace tasker::config
