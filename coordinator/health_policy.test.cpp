#include "coordinator/health_policy.hpp"

#include <doctest/doctest.h>

using namespace tasker::coordinator;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{} + 1000s;

health_observation fresh(std::uint64_t items = 100, std::uint64_t errors = 0) {
  health_observation o;
  o.started_at = t0;
  o.now = t0 + 60s;
  o.last_heartbeat = t0 + 58s;
  o.items = items;
  o.errors = errors;
  o.max_batch_latency = 200ms;
  return o;
}

} // namespace

TEST_CASE("a starting executor becomes healthy on its first heartbeat") {
  health_policy policy;
  health_observation o = fresh();
  o.last_heartbeat.reset();
  o.now = t0 + 2s;
  CHECK(policy.evaluate(health_state::starting, o).state == health_state::starting);
  o.last_heartbeat = t0 + 2s;
  CHECK(policy.evaluate(health_state::starting, o).state == health_state::healthy);
}

TEST_CASE("an executor that never heartbeats after start becomes unhealthy") {
  health_policy policy;
  health_observation o = fresh();
  o.last_heartbeat.reset();
  o.now = t0 + 16s; // stale threshold is 3 × 5 s
  auto v = policy.evaluate(health_state::starting, o);
  CHECK(v.state == health_state::unhealthy);
  CHECK(v.reason.find("no heartbeat") != std::string::npos);
}

TEST_CASE("a stale heartbeat makes a healthy executor unhealthy") {
  health_policy policy;
  health_observation o = fresh();
  o.last_heartbeat = o.now - 14s;
  CHECK(policy.evaluate(health_state::healthy, o).state == health_state::healthy);
  o.last_heartbeat = o.now - 16s;
  auto v = policy.evaluate(health_state::healthy, o);
  CHECK(v.state == health_state::unhealthy);
  CHECK(v.reason.find("heartbeat") != std::string::npos);
}

TEST_CASE("an error rate above the threshold degrades the executor") {
  health_policy policy;
  auto v = policy.evaluate(health_state::healthy, fresh(100, 15));
  CHECK(v.state == health_state::degraded);
  CHECK(v.error_rate == doctest::Approx(0.15));
  CHECK(policy.evaluate(health_state::healthy, fresh(100, 10)).state == health_state::healthy);
}

TEST_CASE("a very high error rate makes the executor unhealthy") {
  health_policy policy;
  CHECK(policy.evaluate(health_state::degraded, fresh(10, 8)).state == health_state::unhealthy);
}

TEST_CASE("too few items do not judge the error rate") {
  health_policy policy;
  CHECK(policy.evaluate(health_state::healthy, fresh(2, 2)).state == health_state::healthy);
}

TEST_CASE("a batch slower than the processing timeout degrades the executor") {
  health_policy policy;
  health_observation o = fresh();
  o.max_batch_latency = 31s;
  auto v = policy.evaluate(health_state::healthy, o);
  CHECK(v.state == health_state::degraded);
  CHECK(v.reason.find("latency") != std::string::npos);
}

TEST_CASE("a degraded executor recovers after a clean window but not while hovering") {
  health_policy policy;
  CHECK(policy.evaluate(health_state::degraded, fresh(100, 8)).state == health_state::degraded);
  auto v = policy.evaluate(health_state::degraded, fresh(100, 0));
  CHECK(v.state == health_state::healthy);
  CHECK(v.reason.find("recovered") != std::string::npos);
}

TEST_CASE("an unhealthy executor stays unhealthy until replaced") {
  health_policy policy;
  CHECK(policy.evaluate(health_state::unhealthy, fresh()).state == health_state::unhealthy);
}

TEST_CASE("a stopping executor reports stopping with its graceful flag") {
  health_policy policy;
  health_observation o = fresh();
  o.stopping = true;
  o.graceful = false;
  auto v = policy.evaluate(health_state::healthy, o);
  CHECK(v.state == health_state::stopping);
  CHECK_FALSE(v.graceful);
  o.last_heartbeat = o.now - 60s; // a draining executor is not judged by heartbeats
  CHECK(policy.evaluate(health_state::stopping, o).state == health_state::stopping);
}

TEST_CASE("health states have readable names") {
  CHECK(to_string(health_state::starting) == "starting");
  CHECK(to_string(health_state::healthy) == "healthy");
  CHECK(to_string(health_state::degraded) == "degraded");
  CHECK(to_string(health_state::unhealthy) == "unhealthy");
  CHECK(to_string(health_state::stopping) == "stopping");
}

TEST_CASE("heartbeats fall on multiples of the interval") {
  const auto on = time_point{} + 1000s;
  CHECK(until_next_beat(on, 1s) == duration{1s});
  CHECK(until_next_beat(on + 250ms, 1s) == duration{750ms});
  CHECK(until_next_beat(on + 999ms, 1s) == duration{1ms});
  // A beat that fired late keeps to the same instants.
  CHECK(until_next_beat(on + 1s + 40us, 1s) == duration{1s - 40us});
  CHECK(until_next_beat(on + 300ms, 2s) == duration{1700ms});
  CHECK(until_next_beat(on, 0s) == duration{0s});
}
