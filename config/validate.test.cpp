#include "config/loader.hpp"
#include "config/test_files.hpp"

#include <doctest/doctest.h>

using namespace tasker::config;
using testing::contains;
using testing::temp_dir;

namespace {

std::vector<std::string> errors_of(const temp_dir& dir) {
  load_options o;
  o.config_dir = dir.path();
  o.variables = env_map{};
  try {
    load_config(o);
  } catch (const config_error& e) {
    return e.errors();
  }
  FAIL("the configuration loaded but was expected to fail");
  return {};
}

} // namespace

TEST_CASE("a pool whose min exceeds its max fails naming both keys and their files") {
  temp_dir dir;
  dir.write("tasker/executor_pools.toml", "[executor_pools.step_enqueuer]\nmin_executors = 3\n");
  dir.write("tasker/environments/development/executor_pools.toml",
            "[executor_pools.step_enqueuer]\nmax_executors = 2\n");
  auto errors = errors_of(dir);
  REQUIRE(errors.size() == 1);
  CHECK(contains(errors[0], "executor_pools.step_enqueuer.min_executors = 3 ("));
  CHECK(contains(errors[0], "tasker/executor_pools.toml) exceeds"));
  CHECK(contains(errors[0], "executor_pools.step_enqueuer.max_executors = 2 ("));
  CHECK(contains(errors[0], "development/executor_pools.toml)"));
}

TEST_CASE("cross-key rules are all reported: pool bounds, heartbeats, queue names, metrics path") {
  temp_dir dir;
  dir.write("tasker/all.toml", "[database.pool]\nmin_connections = 40\nreserved_connections = 25\n"
                               "[orchestration]\nstale_heartbeat_ms = 500\n"
                               "[queues.names]\ntask_requests = \"Bad-Name\"\n"
                               "[telemetry.metrics]\npath = \"metrics\"\n");
  auto errors = errors_of(dir);
  REQUIRE(errors.size() == 5);
  std::string all;
  for (const auto& e : errors)
    all += e + "\n";
  CHECK(contains(all, "database.pool.min_connections = 40"));
  CHECK(contains(all, "database.pool.reserved_connections = 25"));
  CHECK(contains(all, "orchestration.stale_heartbeat_ms = 500"));
  CHECK(contains(all, "queues.names.task_requests = \"Bad-Name\" is not a valid queue name"));
  CHECK(contains(all, "telemetry.metrics.path = \"metrics\" must start with '/'"));
}
