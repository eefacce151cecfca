#include "config/worker_config.hpp"
#include "config/test_files.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

using namespace tasker::config;
using testing::contains;
using testing::temp_dir;

namespace {

loaded_config load_production() {
  load_options o;
  o.config_dir = testing::shipped_config_dir();
  o.environment = "production";
  o.variables = env_map{{"TASKER_DATABASE_URL", "postgresql://w:secret@db/tasker"}};
  return load_config(o);
}

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in{file};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

TEST_CASE("the exported worker configuration has no orchestration keys and loads as a worker") {
  auto node = load_production();
  temp_dir out;
  auto files = export_worker_config(node, out.path());
  REQUIRE(files.size() == 4);
  for (const auto& file : files) {
    auto text = read_all(file);
    CAPTURE(file);
    CHECK_FALSE(contains(text, "executor_pools"));
    CHECK_FALSE(contains(text, "[orchestration"));
    CHECK_FALSE(contains(text, "telemetry"));
    CHECK_FALSE(contains(text, "reserved_connections"));
    CHECK_FALSE(contains(text, "secret"));
  }
  auto worker = load_worker_config(out.path(), env_map{});
  auto expected = worker_subset(node.config);
  expected.database.url.clear(); // never written to disk
  CHECK(worker == expected);
  CHECK(worker.database.pool.max_connections == 60);
  CHECK(worker.queues.names.step_results == "orchestration_step_results");

  auto with_url = load_worker_config(out.path(), {{"TASKER_DATABASE_URL", "postgresql://h/db"}});
  CHECK(with_url.database.url == "postgresql://h/db");
}

TEST_CASE("a worker directory holding an orchestration key is refused naming file and key") {
  temp_dir dir;
  dir.write("queues.toml", "[queues]\nread_batch_size = 5\n");
  dir.write("extra.toml", "[executor_pools.task_claimer]\nmax_executors = 3\n");
  try {
    load_worker_config(dir.path(), env_map{});
    FAIL("expected the worker load to fail");
  } catch (const config_error& e) {
    REQUIRE(e.errors().size() == 1);
    CHECK(contains(e.errors()[0], "extra.toml: unknown key executor_pools"));
  }
}
