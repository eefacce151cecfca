#include "config/commands.hpp"
#include "config/test_files.hpp"
#include "config/worker_config.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

using namespace tasker::config;
using testing::contains;
using testing::temp_dir;

namespace {

load_options shipped(const std::string& env, env_map vars = {}) {
  load_options o;
  o.config_dir = testing::shipped_config_dir();
  o.environment = env;
  o.variables = std::move(vars);
  return o;
}

/// Runs `program` with `args` through the shell; returns its exit code and
/// fills `output` with stdout and stderr.
int run(const char* program, const std::vector<std::string>& args, std::string& output) {
  temp_dir dir;
  auto log = dir.path() / "out.txt";
  std::string command = program;
  for (const auto& arg : args) {
    command += ' ';
    command += arg;
  }
  command.append(" >").append(log.string()).append(" 2>&1");
  int status = std::system(command.c_str());
  std::ifstream in{log};
  std::ostringstream text;
  text << in.rdbuf();
  output = text.str();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace

TEST_CASE("config check accepts the shipped configuration and summarises the budget") {
  std::ostringstream out, err;
  CHECK(config_check(shipped("production"), false, out, err) == 0);
  CHECK(contains(out.str(), "configuration ok"));
  CHECK(contains(out.str(), "executors: 38 of 52 allowed (pool 60, reserved 8)"));
}

TEST_CASE("config check exits 2 listing every error, budget included") {
  temp_dir dir;
  dir.write("tasker/database.toml", "[database.pool]\nmax_connections = 50\n");
  dir.write("tasker/executor_pools.toml",
            "[executor_pools.task_request_processor]\nmax_executors = 10\n"
            "[executor_pools.task_claimer]\nmax_executors = 20\n"
            "[executor_pools.step_enqueuer]\nmax_executors = 15\n"
            "[executor_pools.step_result_processor]\nmax_executors = 20\n"
            "[executor_pools.task_finalizer]\nmax_executors = 8\n");
  load_options o;
  o.config_dir = dir.path();
  o.variables = env_map{};
  std::ostringstream out, err;
  CHECK(config_check(o, false, out, err) == exit_invalid_config);
  CHECK(contains(err.str(), "executor pools request 73 executors but only 45 database "
                            "connections are available (pool 50, reserved 5)"));
  dir.write("tasker/queues.toml", "[queues]\nwhat = 1\n");
  std::ostringstream out2, err2;
  CHECK(config_check(o, false, out2, err2) == exit_invalid_config);
  CHECK(contains(err2.str(), "unknown key queues.what"));
}

TEST_CASE("config check against the test server compares the pool with the server's limits") {
  const char* url = std::getenv("TASKER_DATABASE_URL");
  REQUIRE_MESSAGE(url != nullptr, "TASKER_DATABASE_URL is not set");
  std::ostringstream out, err;
  CHECK(config_check(shipped("test", {{"TASKER_DATABASE_URL", url}}), true, out, err) == 0);
  CHECK(contains(out.str(), "server: max_connections "));
}

TEST_CASE("config show gives every value its source and never prints the password") {
  std::ostringstream out, err;
  auto o = shipped("production", {{"TASKER_DATABASE_URL", "postgresql://u:topsecret@db/x"}});
  o.set = {"queues.read_batch_size=42"};
  CHECK(config_show(o, out, err) == 0);
  auto text = out.str();
  CHECK_FALSE(contains(text, "topsecret"));
  CHECK(contains(text, "postgresql://u:***@db/x"));
  CHECK(contains(text, "# TASKER_DATABASE_URL"));
  CHECK(contains(text, "queues.read_batch_size = 42"));
  CHECK(contains(text, "# --set queues.read_batch_size"));
  CHECK(contains(text, "production/executor_pools.toml"));
  CHECK(contains(text, "executor_pools.coordinator.target_utilization = 0.7 "));
}

TEST_CASE("the tasker-node binary checks, shows and splits configuration with exit codes") {
  std::string output;
  auto root = testing::shipped_config_dir().string();
  CHECK(run(TASKER_NODE_BIN,
            {"config", "check", "--no-database", "--env", "test", "--config-dir", root},
            output) == 0);
  CHECK(contains(output, "configuration ok"));
  temp_dir bad;
  bad.write("tasker/x.toml", "[executor_pools.task_claimer]\nmin_executors = 9\n");
  CHECK(run(TASKER_NODE_BIN,
            {"config", "check", "--no-database", "--config-dir", bad.path().string()},
            output) == exit_invalid_config);
  CHECK(contains(output, "x.toml) exceeds"));
  CHECK(run(TASKER_NODE_BIN,
            {"config", "show", "--env", "test", "--config-dir", root, "--set",
             "telemetry.http.port=9001", "--set", "queues.read_batch_size=7"},
            output) == 0);
  CHECK(contains(output, "telemetry.http.port = 9001"));
  CHECK(contains(output, "queues.read_batch_size = 7"));
  temp_dir legacy, out;
  auto file = legacy.write(legacy_file_name, "[queues]\nread_batch_size = 3\n");
  CHECK(run(TASKER_NODE_BIN, {"config", "split", file.string(), "--out", out.path().string()},
            output) == 0);
  CHECK(std::filesystem::exists(out.path() / "tasker" / "queues.toml"));
}

TEST_CASE("the taskerctl binary exports a worker configuration") {
  std::string output;
  temp_dir out;
  CHECK(run(TASKERCTL_BIN,
            {"config", "export-worker", "--env", "production", "--config-dir",
             testing::shipped_config_dir().string(), "--out", out.path().string()},
            output) == 0);
  CHECK(contains(output, "queue_names.toml"));
  CHECK(std::filesystem::exists(out.path() / "database.toml"));
  CHECK_FALSE(std::filesystem::exists(out.path() / "executor_pools.toml"));
  CHECK_NOTHROW(load_worker_config(out.path(), env_map{}));
}
