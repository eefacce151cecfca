#include "config/loader.hpp"
#include "config/schema.hpp"
#include "config/test_files.hpp"

#include <doctest/doctest.h>

using namespace tasker::config;
using testing::contains;
using testing::temp_dir;

namespace {

const std::string batch_key = "executor_pools.task_claimer.batch_size";

/// A component root whose base and `staging` environment both set batch_size.
void write_layers(const temp_dir& dir) {
  dir.write("tasker/executor_pools.toml", "[executor_pools.task_claimer]\nbatch_size = 11\n");
  dir.write("tasker/environments/staging/executor_pools.toml",
            "[executor_pools.task_claimer]\nbatch_size = 22\n");
}

load_options options_for(const temp_dir& dir, env_map vars = {}) {
  load_options o;
  o.config_dir = dir.path();
  o.environment = "staging";
  o.variables = std::move(vars);
  return o;
}

std::string joined_errors(const load_options& o) {
  try {
    load_config(o);
  } catch (const config_error& e) {
    return e.what();
  }
  FAIL("the configuration loaded but was expected to fail");
  return {};
}

} // namespace

TEST_CASE("a key set at all four levels takes the flag, then the variable, then the environment, "
          "then the base value") {
  temp_dir dir;
  write_layers(dir);
  auto o = options_for(dir, {{"TASKER_EXECUTOR_POOLS__TASK_CLAIMER__BATCH_SIZE", "33"}});
  o.set = {batch_key + "=44"};
  auto all = load_config(o);
  CHECK(all.config.pools.at(executor_type::task_claimer).batch_size == 44);
  CHECK(all.sources.at(batch_key) == "--set " + batch_key);

  o.set.clear();
  auto var = load_config(o);
  CHECK(var.config.pools.at(executor_type::task_claimer).batch_size == 33);
  CHECK(var.sources.at(batch_key) == "TASKER_EXECUTOR_POOLS__TASK_CLAIMER__BATCH_SIZE");

  o.variables = env_map{};
  auto env = load_config(o);
  CHECK(env.config.pools.at(executor_type::task_claimer).batch_size == 22);
  CHECK(contains(env.sources.at(batch_key), "environments/staging/executor_pools.toml"));

  o.environment = "development";
  auto base = load_config(o);
  CHECK(base.config.pools.at(executor_type::task_claimer).batch_size == 11);
  CHECK(contains(base.sources.at(batch_key), "tasker/executor_pools.toml"));
  CHECK(base.config.pools.at(executor_type::task_finalizer).batch_size ==
        tasker_config{}.pools.at(executor_type::task_finalizer).batch_size);
}

TEST_CASE("the database URL comes from TASKER_DATABASE_URL unless --database-url is given") {
  temp_dir dir;
  write_layers(dir);
  auto o = options_for(dir, {{"TASKER_DATABASE_URL", "postgresql://env@db/x"}});
  CHECK(load_config(o).config.database.url == "postgresql://env@db/x");
  o.database_url = "postgresql://flag@db/x";
  auto loaded = load_config(o);
  CHECK(loaded.config.database.url == "postgresql://flag@db/x");
  CHECK(loaded.sources.at("database.url") == "--database-url");
}

TEST_CASE("the environment comes from TASKER_ENV and the root from TASKER_CONFIG_DIR") {
  temp_dir dir;
  write_layers(dir);
  load_options o;
  o.variables = env_map{{"TASKER_ENV", "staging"}, {"TASKER_CONFIG_DIR", dir.path().string()}};
  auto loaded = load_config(o);
  CHECK(loaded.environment == "staging");
  CHECK(loaded.config_dir == dir.path());
  CHECK(loaded.config.pools.at(executor_type::task_claimer).batch_size == 22);
}

TEST_CASE("an unknown key fails naming its file and key") {
  temp_dir dir;
  write_layers(dir);
  dir.write("tasker/queues.toml", "[queues]\nread_bach_size = 5\n");
  auto text = joined_errors(options_for(dir));
  CHECK(contains(text, "queues.toml: unknown key queues.read_bach_size"));
}

TEST_CASE("a removed key fails naming its file and key, and says why it is gone") {
  temp_dir dir;
  write_layers(dir);
  dir.write("tasker/queues.toml", "[queues]\nvisibility_timeout_seconds = 30\n");
  auto text = joined_errors(options_for(
      dir, {{"TASKER_ORCHESTRATION__STEP_VISIBILITY_TIMEOUT_SECONDS", "30"}}));
  CHECK(contains(text, "queues.toml: unknown key queues.visibility_timeout_seconds (removed: "
                       "the node's processors consume task requests and step results"));
  CHECK(contains(text, "environment variable TASKER_ORCHESTRATION__STEP_VISIBILITY_TIMEOUT_SECONDS:"
                       " unknown key orchestration.step_visibility_timeout_seconds (removed: a "
                       "worker consumes the message of each step it starts"));
  // Any other unknown key has no explanation appended.
  CHECK(tasker::config::unknown_key("queues.bogus") == "unknown key queues.bogus");
}

TEST_CASE("a wrong type fails naming its file and key") {
  temp_dir dir;
  write_layers(dir);
  dir.write("tasker/environments/staging/database.toml",
            "[database.pool]\nmax_connections = \"lots\"\n");
  auto text = joined_errors(options_for(dir));
  CHECK(contains(text, "staging/database.toml: database.pool.max_connections: expected an "
                       "integer, found string"));
}

TEST_CASE("every problem is reported at once, from files, variables and flags alike") {
  temp_dir dir;
  write_layers(dir);
  dir.write("tasker/queues.toml", "[queues]\nbogus = 1\nread_batch_size = 0\n");
  auto o = options_for(
      dir, {{"TASKER_QUEUES__POLL_INTERVAL_MS", "soon"}, {"TASKER_QUEUES__NO_SUCH_KEY", "1"}});
  o.set = {"telemetry.logging.format=xml", "nope.key=1"};
  try {
    load_config(o);
    FAIL("expected the load to fail");
  } catch (const config_error& e) {
    CHECK(e.errors().size() == 6);
    auto text = std::string{e.what()};
    CHECK(contains(text, "unknown key queues.bogus"));
    CHECK(contains(text, "queues.read_batch_size = 0 is out of range [1, 10000]"));
    CHECK(contains(text, "TASKER_QUEUES__POLL_INTERVAL_MS: queues.poll_interval_ms: expected an "
                         "integer, got \"soon\""));
    CHECK(contains(text, "environment variable TASKER_QUEUES__NO_SUCH_KEY: unknown key"));
    CHECK(contains(text, "telemetry.logging.format = \"xml\" is not one of: text, json"));
    CHECK(contains(text, "--set nope.key=1: unknown key nope.key"));
  }
}

TEST_CASE("a syntax error names the file, line and column") {
  temp_dir dir;
  write_layers(dir);
  dir.write("tasker/queues.toml", "[queues]\nread_batch_size = = 3\n");
  CHECK(contains(joined_errors(options_for(dir)), "queues.toml:2:"));
}

TEST_CASE("a root without component files or a legacy file is an error naming the root") {
  temp_dir dir;
  CHECK(contains(joined_errors(options_for(dir)), "no configuration in " + dir.path().string()));
}

TEST_CASE("the legacy single file loads with a deprecation warning and its environment section") {
  temp_dir dir;
  dir.write(legacy_file_name, "[database.pool]\nmax_connections = 30\n"
                              "[queues.names]\ntask_requests = \"legacy_requests\"\n"
                              "[environments.staging.database.pool]\nmin_connections = 2\n");
  auto loaded = load_config(options_for(dir));
  CHECK(loaded.legacy);
  CHECK(loaded.config.database.pool.max_connections == 30);
  CHECK(loaded.config.database.pool.min_connections == 2);
  CHECK(loaded.config.queues.names.task_requests == "legacy_requests");
  REQUIRE(loaded.warnings.size() == 1);
  CHECK(contains(loaded.warnings[0], "deprecated"));
  CHECK(contains(loaded.sources.at("database.pool.min_connections"), "[environments.staging]"));
}

TEST_CASE("a broken value is reported in its own file even when a later layer overrides it") {
  temp_dir dir;
  write_layers(dir);
  dir.write("tasker/database.toml", "[database.pool]\nmax_connections = \"lots\"\n");
  dir.write("tasker/environments/staging/database.toml",
            "[database.pool]\nmax_connections = 30\n");
  dir.write("tasker/queues.toml", "[[queues]]\nread_batch_size = 3\n");
  dir.write("shared/queue_names.toml", "[queues.names]\ntask_requests = \"requests\"\n");
  load_options o = options_for(dir);
  std::vector<std::string> errors;
  try {
    load_config(o);
    FAIL("the configuration loaded but was expected to fail");
  } catch (const config_error& e) {
    errors = e.errors();
  }
  REQUIRE(errors.size() == 2);
  CHECK(contains(errors[0], "tasker/database.toml: database.pool.max_connections: expected an "
                            "integer, found string"));
  // The [[queues]] array is replaced by shared/'s [queues.names] table when merged.
  CHECK(contains(errors[1], "tasker/queues.toml: queues: expected a table, found array"));
}

TEST_CASE("an error found in a file and again after merging is listed once") {
  temp_dir dir;
  write_layers(dir);
  dir.write("tasker/queues.toml", "[queues]\nread_bach_size = 3\n");
  load_options o = options_for(dir);
  try {
    load_config(o);
    FAIL("the configuration loaded but was expected to fail");
  } catch (const config_error& e) {
    REQUIRE(e.errors().size() == 1);
    CHECK(contains(e.errors()[0], "queues.toml: unknown key queues.read_bach_size"));
  }
}
