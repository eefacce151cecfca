// PostgreSQL stopped and started again under a running node: the node stays
// up, says it is degraded while the database is gone, and finishes every task
// once the database is back. The health endpoints are checked for shape
// while tasks flow, which makes this the "health under load" test as well.
#include "tests/fault/process/fault_support.hpp"
#include "tests/integration/harness.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace tasker::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// A short sleep keeps the run going long enough to stop the database mid-run.
const char* napping = R"(
namespace = "fault"
name = "nap"
version = "1.0.0"
[[steps]]
name = "nap"
handler = "sleep"
timeout_seconds = 30
inputs = { ms = 100 }
)";

const std::set<std::string> pool_names{"task_request_processor", "task_claimer", "step_enqueuer",
                                       "step_result_processor", "task_finalizer"};

bool is_number(const json& j, const char* key) {
  return j.contains(key) && j.at(key).is_number();
}

void check_orchestration_shape(std::uint16_t port) {
  int status = 0;
  auto h = http_get_json(port, "/health/orchestration", &status);
  INFO("GET /health/orchestration: " << h.dump());
  CHECK(status == 200);
  REQUIRE(h.contains("status"));
  CHECK((h["status"] == "healthy" || h["status"] == "degraded"));
  CHECK(h["reasons"].is_array());
  CHECK(h["node_id"] == "restart-node");
  REQUIRE(h["coordinator"].is_object());
  CHECK(h["coordinator"]["running"] == true);
  CHECK(h["coordinator"]["shutting_down"] == false);
  CHECK(is_number(h["coordinator"], "uptime_seconds"));
  CHECK(h["coordinator"]["uptime_seconds"].get<double>() >= 0);
  CHECK(h["coordinator"]["items_processed"].get<double>() > 0);
  REQUIRE(h["executor_pools"].is_object());
  std::set<std::string> seen;
  for (auto& [name, pool] : h["executor_pools"].items()) {
    INFO("pool " << name);
    seen.insert(name);
    for (const char* key : {"healthy", "unhealthy", "degraded", "starting", "stopping",
                            "throughput", "executors", "min", "max", "target", "utilization",
                            "queue_depth", "items_processed", "errors", "scale_ups",
                            "scale_downs", "refused_scale_ups"})
      CHECK_MESSAGE(is_number(pool, key), "missing or not a number: " << key);
    CHECK(pool["breaker"].is_string());
    CHECK(pool["failed"] == false);
    CHECK(pool["paused"] == false);
    CHECK(pool["executors"].get<int>() >= pool["min"].get<int>());
    CHECK(pool["executors"].get<int>() <= pool["max"].get<int>());
    CHECK(pool["utilization"].get<double>() >= 0.0);
  }
  CHECK(seen == pool_names);
  REQUIRE(h["database"].is_object());
  auto& db = h["database"];
  // The test environment: pool 10, reserved 3, so the broker holds 7.
  CHECK(db["pool_size"] == 7);
  CHECK(db["active_connections"].get<int>() >= 0);
  CHECK(db["active_connections"].get<int>() <= db["pool_size"].get<int>());
  CHECK(db["saturation"].get<double>() >= 0.0);
  CHECK(db["saturation"].get<double>() <= 1.0);
  CHECK(is_number(db, "waiting"));
  CHECK(h["events"].is_array());
}

void check_resources_shape(std::uint16_t port) {
  int status = 0;
  auto r = http_get_json(port, "/health/orchestration/resources", &status);
  INFO("GET /health/orchestration/resources: " << r.dump());
  CHECK(status == 200);
  CHECK((r["status"] == "healthy" || r["status"] == "degraded"));
  auto& limits = r["system_limits"];
  CHECK(limits["database_max_connections"] == 10);
  CHECK(limits["reserved_connections"] == 3);
  CHECK(limits["max_total_executors"] == 7);
  CHECK(limits["cpu_cores"].get<int>() >= 1);
  CHECK(is_number(limits, "server_max_connections"));
  auto& used = r["current_utilization"];
  CHECK(used["active_executors"].get<int>() >= 5);
  CHECK(used["database_connections_used"].get<int>() <= 7);
  CHECK(used["database_saturation"].get<double>() <= 1.0);
  CHECK(is_number(used, "cpu_utilization"));
  auto& budget = r["resource_budget"];
  CHECK(budget["allocated_executors"].get<int>() <= 7);
  CHECK(budget["constraint_violations"] == 0);
  CHECK(budget["warnings"].is_array());
}

void check_metrics_shape(std::uint16_t port) {
  auto m = http_get(port, "/metrics");
  INFO("GET /metrics: " << m.body.substr(0, 4000) << m.error);
  CHECK(m.status == 200);
  CHECK(m.body.find("orchestration_coordinator_up 1") != std::string::npos);
  for (const char* series :
       {"orchestration_coordinator_uptime_seconds", "orchestration_items_processed_total",
        "orchestration_active_executors", "orchestration_db_pool_saturation",
        "orchestration_db_pool_size", "orchestration_db_connections_active",
        "orchestration_backpressure_factor", "orchestration_executor_budget_limit",
        "orchestration_pool_items_processed_total{", "orchestration_pool_active_executors{",
        "orchestration_circuit_breaker_state{", "orchestration_executor_batches_total{",
        "orchestration_executor_batch_duration_seconds_bucket{"})
    CHECK_MESSAGE(m.body.find(series) != std::string::npos, "no series " << series);
  for (const auto& pool : pool_names)
    CHECK_MESSAGE(m.body.find("orchestration_pool_active_executors{pool=\"" + pool + "\"}")
                    != std::string::npos,
                  "no active-executor series for pool " << pool);
}

// True when some pool reports a breaker that is not closed.
bool some_breaker_not_closed(const json& h) {
  if (!h.contains("executor_pools"))
    return false;
  for (auto& [name, pool] : h["executor_pools"].items())
    if (pool.value("breaker", "closed") != "closed")
      return true;
  return false;
}

} // namespace

TEST_CASE("a node rides out a PostgreSQL restart: degraded while the database is down, every "
          "task completes once it is back") {
  const int first = long_variant() ? 2000 : 500;
  const int second = long_variant() ? 1000 : 200;
  dedicated_server server;
  cluster c;
  c.register_template(napping);
  c.submit("fault", "nap", first);
  auto& node = c.start_node("restart-node", {"--http-port", "0"});
  c.start_worker("fault", {"--concurrency", "4"});
  auto port = http_port_of(node);

  REQUIRE_MESSAGE(poll_until([&] { return c.scalar(tasks_in("complete")) >= 20; }, 180s),
                  "no task completed within 180 s:\n" << c.logs());
  // The snapshot behind the endpoints is refreshed by the coordinator's health
  // tick: wait until it reflects the work already done.
  REQUIRE_MESSAGE(poll_until(
                      [&] {
                        auto h = http_get_json(port, "/health/orchestration");
                        return h.is_object() && h.contains("coordinator")
                               && h.contains("database") && h["coordinator"].is_object()
                               && h["database"].is_object()
                               && h["coordinator"].value("items_processed", 0.0) > 0
                               && h["database"].value("pool_size", 0) > 0;
                      },
                      60s),
                  "the health snapshot never showed processed items:\n" << c.logs());
  // Health under load: the endpoints answer with their documented shape.
  check_orchestration_shape(port);
  check_resources_shape(port);
  check_metrics_shape(port);

  auto before = c.scalar(tasks_in("complete"));
  REQUIRE_MESSAGE(before < first, "every task completed before the database stopped");
  server.stop();

  json seen_down;
  bool degraded = false;
  bool breaker_open = false;
  bool live = true;
  poll_until(
    [&] {
      live = live && node.running();
      int status = 0;
      auto h = http_get_json(port, "/health/orchestration", &status);
      if (h.value("status", "") != "healthy") {
        degraded = true;
        seen_down = h;
      }
      breaker_open = breaker_open || some_breaker_not_closed(h);
      return !live || (degraded && breaker_open);
    },
    90s);
  INFO("last /health/orchestration while the database was down: " << seen_down.dump());
  CHECK_MESSAGE(live, "the node exited while the database was down:\n" << c.logs());
  CHECK_MESSAGE(degraded, "/health/orchestration said healthy for 90 s with the database down");
  CHECK_MESSAGE(breaker_open, "no circuit breaker opened while the database was down");
  CHECK(http_get(port, "/health/live").status == 200);

  server.start();
  // A distinct context: a repeated one would find the first round's task.
  c.submit("fault", "nap", second, json{{"round", 2}});
  auto done = c.wait_for(tasks_in("complete"), first + second, long_variant() ? 900s : 420s);
  INFO(c.logs());
  INFO("progress: " << progress_summary(c.db().url()));
  INFO("/health/orchestration: " << http_get(port, "/health/orchestration").body);
  REQUIRE(done == first + second);
  CHECK(node.running());
  CHECK(c.scalar("SELECT count(*) FROM (SELECT workflow_step_uuid FROM workflow_step_transitions "
                 "WHERE to_state = 'complete' GROUP BY 1 HAVING count(*) > 1) twice") == 0);
  CHECK(c.scalar("SELECT count(*) FROM workflow_step_transitions WHERE to_state = 'complete'")
        == first + second);
  // The breakers close again and the node reports healthy.
  json last;
  bool healthy = poll_until(
    [&] {
      last = http_get_json(port, "/health/orchestration");
      return last.value("status", "") == "healthy";
    },
    120s);
  CHECK_MESSAGE(healthy, "the node never reported healthy again: " << last.dump());
}
