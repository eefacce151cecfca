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

TEST_CASE("inspector TLS without a certificate, key or CA, or with missing files, names key and file") {
  temp_dir dir;
  dir.write("tasker/telemetry.toml", "[telemetry.inspector.tls]\nenabled = true\n");
  auto errors = errors_of(dir);
  REQUIRE(errors.size() == 3);
  std::string all;
  for (const auto& e : errors)
    all += e + "\n";
  CHECK(contains(all, "tasker/telemetry.toml: telemetry.inspector.tls.enabled = true needs "
                      "telemetry.inspector.tls.certificate"));
  CHECK(contains(all, "needs telemetry.inspector.tls.key"));
  CHECK(contains(all, "needs telemetry.inspector.tls.cafile or telemetry.inspector.tls.capath"));

  auto cert = dir.write("certs/node.pem", "not checked here");
  dir.write("tasker/telemetry.toml", "[telemetry.inspector.tls]\nenabled = true\n"
                                     "certificate = \"" + cert.string() + "\"\n"
                                     "key = \"" + (dir.path() / "certs/absent.key").string() +
                                     "\"\ncafile = \"" + cert.string() + "\"\n"
                                     "capath = \"" + cert.string() + "\"\n");
  errors = errors_of(dir);
  REQUIRE(errors.size() == 2);
  CHECK(contains(errors[0], "tasker/telemetry.toml: telemetry.inspector.tls.key = \""));
  CHECK(contains(errors[0], "absent.key\" does not exist"));
  CHECK(contains(errors[1], "telemetry.inspector.tls.capath = \""));
  CHECK(contains(errors[1], "is not a directory"));

  // Disabled, the same keys are not checked.
  dir.write("tasker/telemetry.toml", "[telemetry.inspector.tls]\nenabled = false\n"
                                     "key = \"/nowhere/node.key\"\n");
  load_options o;
  o.config_dir = dir.path();
  o.variables = env_map{};
  CHECK_NOTHROW(load_config(o));
}

TEST_CASE("an executor budget that does not fit names every pool's key and the pool's keys") {
  temp_dir dir;
  dir.write("tasker/database.toml", "[database.pool]\nmax_connections = 12\n");
  dir.write("tasker/environments/development/executor_pools.toml",
            "[executor_pools.task_claimer]\nmax_executors = 40\n");
  auto errors = errors_of(dir);
  REQUIRE(errors.size() == 1);
  // Defaults: 2 + 3 + 3 + 2 besides the claimer's 40; 12 - 5 reserved are available.
  CHECK(contains(errors[0], "executor pools request 50 executors but only 7 database connections "
                            "are available (pool 12, reserved 5): "));
  CHECK(contains(errors[0], "executor_pools.task_claimer.max_executors = 40 ("));
  CHECK(contains(errors[0], "development/executor_pools.toml)"));
  CHECK(contains(errors[0], "executor_pools.task_finalizer.max_executors = 2 ("));
  CHECK(contains(errors[0], "database.pool.max_connections = 12 ("));
  CHECK(contains(errors[0],
                 "tasker/database.toml) minus database.pool.reserved_connections = 5 ("));
  // With resource validation off the budget is only a warning of calculate_budget.
  dir.write("tasker/executor_pools.toml",
            "[executor_pools.coordinator]\nresource_validation_enabled = false\n");
  load_options o;
  o.config_dir = dir.path();
  o.variables = env_map{};
  CHECK_NOTHROW(load_config(o));
}
