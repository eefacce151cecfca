#include "observability/http_server.hpp"

#include "observability/live_node.test.hpp"
#include "observability/status_page.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <iomanip>
#include <set>

using namespace tasker;
using namespace tasker::testing;
using nlohmann::json;

namespace {

bool all_pools_ready(const json& body, int status) {
  return status == 200 && body["status"] == "ready";
}

std::set<std::string> keys(const json& object) {
  std::set<std::string> out;
  for (auto& [k, v] : object.items())
    out.insert(k);
  return out;
}

// True when /proc/net/tcp lists a listening socket on `hex_addr`:`port`.
bool listening_on(const std::string& hex_addr, std::uint16_t port) {
  std::ifstream in{"/proc/net/tcp"};
  std::ostringstream want;
  want << hex_addr << ':' << std::uppercase << std::hex << std::setw(4) << std::setfill('0')
       << port;
  std::string line;
  while (std::getline(in, line))
    if (line.find(want.str()) != std::string::npos && line.find(" 0A ") != std::string::npos)
      return true;
  return false;
}

} // namespace

TEST_CASE("the health endpoints answer from the live coordinator with its pools and broker") {
  live_node node{{{"task_claimer", 2}, {"step_enqueuer", 1}}, true, 4};
  auto ready = node.wait_for("/health/ready", all_pools_ready);
  CHECK_MESSAGE(ready["status"] == "ready", ready.dump());

  int status = 0;
  CHECK(node.get_json("/health/live", &status) == json{{"status", "alive"}});
  CHECK(status == 200);

  // Items accumulate as the scripted executors run batches.
  auto o = node.wait_for("/health/orchestration", [](const json& b, int) {
    return b["executor_pools"]["task_claimer"]["items_processed"].get<std::uint64_t>() > 0 &&
           b["database"]["pool_size"] == 4;
  });
  CHECK(o["status"] == "healthy");
  CHECK(o["coordinator"]["running"] == true);
  CHECK(o["coordinator"]["uptime_seconds"].get<std::int64_t>() >= 0);
  CHECK(keys(o["executor_pools"]) == std::set<std::string>{"task_claimer", "step_enqueuer"});
  auto& claimer = o["executor_pools"]["task_claimer"];
  CHECK(claimer["executors"] == 2);
  CHECK(claimer["healthy"] == 2);
  CHECK(claimer["unhealthy"] == 0);
  CHECK(claimer["min"] == 2);
  CHECK(claimer["max"] == 2);
  CHECK(claimer["throughput"].get<double>() > 0.0);
  CHECK(o["executor_pools"]["step_enqueuer"]["executors"] == 1);
  CHECK(o["database"]["pool_size"] == 4);
  auto saturation = o["database"]["saturation"].get<double>();
  CHECK(saturation >= 0.0);
  CHECK(saturation <= 1.0);
  CHECK(o["database"]["active_connections"].get<int>() <= 4);

  auto r = node.get_json("/health/orchestration/resources", &status);
  CHECK(status == 200);
  CHECK(r["system_limits"]["cpu_cores"] == node.info().detected.cpu_cores);
  CHECK(r["system_limits"]["max_total_executors"] == 3);
  CHECK(r["current_utilization"]["active_executors"] == 3);
  auto cpu = r["current_utilization"]["cpu_utilization"].get<double>();
  CHECK(cpu >= 0.0);
  CHECK(cpu <= 1.0);
  CHECK(r["resource_budget"]["allocated_executors"] == 3);
  CHECK(r["resource_budget"]["remaining_capacity"] == 0);
  CHECK(r["resource_budget"]["constraint_violations"] == 0);
}

TEST_CASE("metrics from the live node parse as Prometheus text and carry each named series") {
  live_node node{{{"task_claimer", 1}}, true, 2};
  node.wait_for("/health/ready", all_pools_ready);
  auto res = node.get("/metrics");
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").find("text/plain") == 0);
  std::vector<std::string> bad;
  auto names = exposition_names(res->body, bad);
  CHECK_MESSAGE(bad.empty(), "unparsable line: " << (bad.empty() ? "" : bad.front()));
  std::set<std::string> have(names.begin(), names.end());
  for (auto name :
       {"orchestration_executor_items_processed_total",
        "orchestration_executor_batch_duration_seconds_bucket", "orchestration_executor_error_rate",
        "orchestration_executor_health_state", "orchestration_pool_utilization_ratio",
        "orchestration_pool_active_executors", "orchestration_pool_scaling_events_total",
        "orchestration_pool_queue_depth", "orchestration_db_pool_saturation",
        "orchestration_circuit_breaker_state", "orchestration_backpressure_events_total",
        "orchestration_active_executors", "orchestration_db_connections_used_ratio",
        "orchestration_cpu_utilization_per_core", "orchestration_executor_efficiency_ratio",
        "orchestration_resource_constraint_violations_total",
        "orchestration_config_validation_status",
        "orchestration_component_config_load_time_seconds"})
    CHECK_MESSAGE(have.count(name), name << " is missing");
  CHECK(res->body.find("orchestration_pool_active_executors{pool=\"task_claimer\"} 1") !=
        std::string::npos);
  CHECK(res->body.find("orchestration_db_pool_size 2") != std::string::npos);
}

TEST_CASE("readiness is 503 naming the pools while executors have not reported healthy") {
  live_node node{{{"task_claimer", 2}}, false, 0, [] { return false; }};
  int status = 0;
  auto ready = node.get_json("/health/ready", &status);
  CHECK(status == 503);
  CHECK(ready["status"] == "not_ready");
  CHECK(ready["failed"] == json::array({"migrated", "pools"}));
  auto o = node.get_json("/health/orchestration", &status);
  CHECK(status == 200);
  CHECK(o["status"] == "degraded");
  CHECK(o["executor_pools"]["task_claimer"]["starting"] == 2);
  CHECK(o["executor_pools"]["task_claimer"]["healthy"] == 0);
}

TEST_CASE("a coordinator that has quit is reported unhealthy while liveness stays alive") {
  live_node node{{{"task_claimer", 1}}, false};
  {
    caf::scoped_actor self{node.system()};
    self->send_exit(node.coordinator(), caf::exit_reason::kill);
  }
  auto o =
      node.wait_for("/health/orchestration", [](const json&, int status) { return status == 503; });
  CHECK(o["status"] == "unhealthy");
  CHECK(o["coordinator"]["running"] == false);
  int status = 0;
  CHECK(node.get_json("/health/live", &status)["status"] == "alive");
  CHECK(status == 200);
  CHECK(node.get("/metrics")->body.find("orchestration_coordinator_up 0") != std::string::npos);
}

TEST_CASE("the status page is served as HTML carrying its script") {
  live_node node{{{"task_claimer", 1}}, false};
  auto res = node.get("/");
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").find("text/html") == 0);
  CHECK(res->body.find("<!DOCTYPE html>") == 0);
  CHECK(res->body.find(std::string{"id=\""} + std::string{observability::status_page_script_id}) !=
        std::string::npos);
  CHECK(res->body.find("/health/orchestration") != std::string::npos);
  CHECK(res->body.find("http://") == std::string::npos); // no external assets
  CHECK(res->body.find("https://") == std::string::npos);
}

TEST_CASE("the server binds 127.0.0.1 by default and stop returns promptly") {
  live_node node{{{"task_claimer", 1}}, false};
  CHECK(node.info().config.telemetry.http.bind_address == "127.0.0.1");
  auto port = node.server().port();
  REQUIRE(port != 0);
  CHECK(listening_on("0100007F", port));
  CHECK_FALSE(listening_on("00000000", port));
  // A kept-alive client connection must not hold stop() up.
  httplib::Client cli{"127.0.0.1", port};
  cli.set_keep_alive(true);
  REQUIRE(cli.Get("/health/live"));
  auto before = std::chrono::steady_clock::now();
  node.server().stop();
  auto took = std::chrono::steady_clock::now() - before;
  CHECK(took < std::chrono::seconds{3});
  CHECK_FALSE(listening_on("0100007F", port));
  CHECK_FALSE(cli.Get("/health/live"));
  node.server().stop(); // idempotent
}

TEST_CASE("a port that is taken makes start fail with a message naming the address") {
  live_node node{{{"task_claimer", 1}}, false};
  observability::http_server second{node.system(), node.coordinator(), node.info(),
                                    [] { return true; }, [] { return true; }};
  CHECK_THROWS_WITH_AS(second.start("127.0.0.1", node.server().port()),
                       doctest::Contains("127.0.0.1"), std::runtime_error);
}
