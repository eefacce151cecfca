#include "config/split.hpp"
#include "config/loader.hpp"
#include "config/test_files.hpp"

#include <doctest/doctest.h>

using namespace tasker::config;
using testing::contains;
using testing::temp_dir;

namespace {

const char* legacy_text = R"(
[database]
statement_timeout_ms = 2500
[database.pool]
max_connections = 40
reserved_connections = 6
[orchestration]
node_id = "legacy-node"
heartbeat_interval_ms = 500
[executor_pools.coordinator]
target_utilization = 0.6
[executor_pools.task_claimer]
max_executors = 7
[circuit_breakers.defaults]
timeout_seconds = 12
[circuit_breakers.executors.task_finalizer]
success_threshold = 4
[queues]
read_batch_size = 25
[queues.names]
task_requests = "legacy_task_requests"
[telemetry.logging]
format = "json"
[environments.production.executor_pools.task_claimer]
max_executors = 9
[environments.production.queues.names]
step_results = "prod_step_results"
)";

tasker_config load_from(const std::filesystem::path& root, const std::string& env,
                        bool* legacy = nullptr) {
  load_options o;
  o.config_dir = root;
  o.environment = env;
  o.variables = env_map{};
  auto loaded = load_config(o);
  if (legacy != nullptr)
    *legacy = loaded.legacy;
  return loaded.config;
}

} // namespace

TEST_CASE("splitting the legacy file yields component files that load to identical values") {
  temp_dir legacy_root;
  auto legacy = legacy_root.write(legacy_file_name, legacy_text);
  temp_dir out;
  auto files = split_legacy(legacy, out.path());
  CHECK(std::find(files.begin(), files.end(), out.path() / "shared" / "queue_names.toml") !=
        files.end());
  CHECK(std::filesystem::exists(out.path() / "tasker" / "executor_pools.toml"));
  CHECK(std::filesystem::exists(out.path() / "tasker/environments/production/queues.toml"));
  for (const char* env : {"development", "production"}) {
    CAPTURE(env);
    bool was_legacy = false, is_legacy = true;
    auto before = load_from(legacy_root.path(), env, &was_legacy);
    auto after = load_from(out.path(), env, &is_legacy);
    CHECK(was_legacy);
    CHECK_FALSE(is_legacy);
    CHECK(after == before);
    CHECK(after.orchestration.node_id == "legacy-node");
  }
  CHECK(load_from(out.path(), "production").pools.at(executor_type::task_claimer).max_executors ==
        9);
  CHECK(load_from(out.path(), "production").queues.names.step_results == "prod_step_results");
}

TEST_CASE("split refuses an unknown section naming the file and section") {
  temp_dir root;
  auto legacy = root.write(legacy_file_name, "[database]\n[webhooks]\nurl = \"x\"\n");
  temp_dir out;
  try {
    split_legacy(legacy, out.path());
    FAIL("expected split to fail");
  } catch (const config_error& e) {
    REQUIRE(e.errors().size() == 1);
    CHECK(contains(e.errors()[0], "tasker-config.toml: unknown section webhooks"));
  }
  CHECK_FALSE(std::filesystem::exists(out.path() / "tasker"));
}
