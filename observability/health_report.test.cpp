#include "observability/health_report.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace tasker;
using namespace tasker::observability;
using namespace tasker::messaging;
using namespace std::chrono_literals;

namespace {

executor_snapshot executor(std::uint64_t id, std::string pool,
                           executor_state state = executor_state::healthy,
                           breaker_state breaker = breaker_state::closed) {
  executor_snapshot e;
  e.id = id;
  e.pool = std::move(pool);
  e.state = state;
  e.breaker = breaker;
  return e;
}

pool_snapshot pool(std::string name, std::uint32_t executors, std::uint32_t min,
                   std::uint32_t max) {
  pool_snapshot p;
  p.name = std::move(name);
  p.executors = executors;
  p.min = min;
  p.max = max;
  return p;
}

// Two pools at their minimum, every executor healthy, a broker of 10.
observation healthy_observation() {
  coordinator_snapshot s;
  s.pools = {pool("task_claimer", 2, 2, 4), pool("step_enqueuer", 1, 1, 2)};
  s.executors = {executor(1, "task_claimer"), executor(2, "task_claimer"),
                 executor(3, "step_enqueuer")};
  s.broker.size = 10;
  s.broker.leased = 3;
  s.broker.peak_leased = 7;
  s.broker.saturation = 0.3;
  s.uptime = 90s;
  s.executor_limit = 6;
  s.executors_allocated = 3;
  s.events.push_back(runtime_event{5s, "scale_up", "task_claimer", "+1"});
  observation obs;
  obs.snapshot = s;
  obs.throughput = {{"task_claimer", 12.5}, {"step_enqueuer", 0.0}};
  obs.cpu_utilization = 0.25;
  return obs;
}

node_info info() {
  node_info i;
  i.node_id = "n1";
  i.detected.cpu_cores = 8;
  i.detected.configured_pool_size = 10;
  i.budget = resources::calculate_budget(i.config);
  return i;
}

bool mentions(const nlohmann::json& reasons, const std::string& word) {
  return std::any_of(reasons.begin(), reasons.end(), [&](const nlohmann::json& r) {
    return r.get<std::string>().find(word) != std::string::npos;
  });
}

} // namespace

TEST_CASE("every pool at its minimum healthy executors is healthy and ready") {
  auto obs = healthy_observation();
  auto ready = readiness(obs, true, true);
  CHECK(ready.status == 200);
  CHECK(ready.body["status"] == "ready");
  CHECK(ready.body["failed"].empty());
  auto h = orchestration_health(obs, info());
  CHECK(h.status == 200);
  CHECK(h.body["status"] == "healthy");
  CHECK(h.body["coordinator"]["running"] == true);
  CHECK(h.body["coordinator"]["uptime_seconds"] == 90);
  auto& claimer = h.body["executor_pools"]["task_claimer"];
  CHECK(claimer["healthy"] == 2);
  CHECK(claimer["unhealthy"] == 0);
  CHECK(claimer["throughput"] == doctest::Approx(12.5));
  CHECK(claimer["executors"] == 2);
  CHECK(claimer["min"] == 2);
  CHECK(claimer["max"] == 4);
  CHECK(claimer["breaker"] == "closed");
  CHECK(h.body["database"]["pool_size"] == 10);
  CHECK(h.body["database"]["active_connections"] == 3);
  CHECK(h.body["database"]["peak_active_connections"] == 7);
  CHECK(h.body["database"]["saturation"] == doctest::Approx(0.3));
  REQUIRE(h.body["events"].size() == 1);
  CHECK(h.body["events"][0]["kind"] == "scale_up");
  CHECK(h.body["events"][0]["at_seconds"] == doctest::Approx(5.0));
}

TEST_CASE("a pool below its minimum healthy executors is degraded and not ready, naming the pool") {
  auto obs = healthy_observation();
  obs.snapshot->executors[1].state = executor_state::starting;
  auto ready = readiness(obs, true, true);
  CHECK(ready.status == 503);
  CHECK(ready.body["failed"] == nlohmann::json::array({"pools"}));
  auto detail = ready.body["checks"]["pools"]["detail"].get<std::string>();
  CHECK(detail.find("task_claimer: 1 of 2") != std::string::npos);
  auto h = orchestration_health(obs, info());
  CHECK(h.status == 200);
  CHECK(h.body["status"] == "degraded");
  CHECK(h.body["executor_pools"]["task_claimer"]["starting"] == 1);
  CHECK(mentions(h.body["reasons"], "task_claimer"));
}

TEST_CASE("a failed pool makes orchestration unhealthy with 503") {
  auto obs = healthy_observation();
  obs.snapshot->pools[1].failed = true;
  auto h = orchestration_health(obs, info());
  CHECK(h.status == 503);
  CHECK(h.body["status"] == "unhealthy");
  CHECK(mentions(h.body["reasons"], "step_enqueuer"));
  CHECK(readiness(obs, true, true).status == 503);
}

TEST_CASE("a pool whose executors are all unhealthy is unhealthy") {
  auto obs = healthy_observation();
  obs.snapshot->executors[2].state = executor_state::unhealthy;
  auto h = orchestration_health(obs, info());
  CHECK(h.status == 503);
  CHECK(h.body["executor_pools"]["step_enqueuer"]["unhealthy"] == 1);
}

TEST_CASE("an open circuit breaker or engaged backpressure degrades the status") {
  auto obs = healthy_observation();
  obs.snapshot->executors[0].breaker = breaker_state::open;
  obs.snapshot->executors[1].breaker = breaker_state::half_open;
  auto h = orchestration_health(obs, info());
  CHECK(h.body["status"] == "degraded");
  CHECK(h.body["executor_pools"]["task_claimer"]["breaker"] == "open");
  auto bp = healthy_observation();
  bp.snapshot->backpressure = 0.4;
  auto h2 = orchestration_health(bp, info());
  CHECK(h2.body["status"] == "degraded");
  CHECK(mentions(h2.body["reasons"], "backpressure"));
}

TEST_CASE("a coordinator that does not answer is unhealthy and not ready") {
  observation obs;
  obs.error = "request_timeout";
  auto h = orchestration_health(obs, info());
  CHECK(h.status == 503);
  CHECK(h.body["coordinator"]["running"] == false);
  CHECK(h.body["executor_pools"].empty());
  auto ready = readiness(obs, true, true);
  CHECK(ready.status == 503);
  CHECK(ready.body["failed"] == nlohmann::json::array({"coordinator"}));
  CHECK(resource_health(obs, info()).status == 503);
  CHECK(liveness().status == 200);
  CHECK(liveness().body == nlohmann::json{{"status", "alive"}});
}

TEST_CASE("readiness names each failed check") {
  auto ready = readiness(healthy_observation(), false, false);
  CHECK(ready.status == 503);
  CHECK(ready.body["failed"] == nlohmann::json::array({"migrated", "broker_connected"}));
  CHECK(ready.body["checks"]["pools"]["ok"] == true);
}

TEST_CASE("resource health reports limits, utilization and the remaining budget") {
  auto r = resource_health(healthy_observation(), info());
  CHECK(r.status == 200);
  CHECK(r.body["status"] == "healthy");
  CHECK(r.body["system_limits"]["cpu_cores"] == 8);
  CHECK(r.body["system_limits"]["database_max_connections"] == 10);
  CHECK(r.body["system_limits"]["max_total_executors"] == 6);
  CHECK(r.body["current_utilization"]["active_executors"] == 3);
  CHECK(r.body["current_utilization"]["database_connections_used"] == 3);
  CHECK(r.body["current_utilization"]["cpu_utilization"] == doctest::Approx(0.25));
  CHECK(r.body["resource_budget"]["allocated_executors"] == 3);
  CHECK(r.body["resource_budget"]["remaining_capacity"] == 3);
  CHECK(r.body["resource_budget"]["constraint_violations"] == 0);
}

TEST_CASE("an exhausted budget with refused scale-ups and high saturation degrades resources") {
  auto obs = healthy_observation();
  obs.snapshot->executors_allocated = 6;
  obs.snapshot->constraint_violations = 2;
  obs.snapshot->broker.saturation = 0.95;
  auto r = resource_health(obs, info());
  CHECK(r.status == 200);
  CHECK(r.body["status"] == "degraded");
  CHECK(r.body["resource_budget"]["remaining_capacity"] == 0);
  CHECK(r.body["resource_budget"]["constraint_violations"] == 2);
  CHECK(mentions(r.body["reasons"], "saturation"));
  CHECK(mentions(r.body["reasons"], "refused"));
}

TEST_CASE("a pool paused by an operator degrades the status without failing readiness") {
  auto obs = healthy_observation();
  obs.snapshot->pools[0].paused = true;
  auto h = orchestration_health(obs, info());
  CHECK(h.status == 200);
  CHECK(h.body["status"] == "degraded");
  CHECK(h.body["executor_pools"]["task_claimer"]["paused"] == true);
  CHECK(mentions(h.body["reasons"], "paused"));
  CHECK(readiness(obs, true, true).status == 200);
}
