#include "coordinator/scaling_policy.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace tasker::coordinator;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{} + 1000s;

scaling_settings fast_settings() {
  scaling_settings s;
  s.target_utilization = 0.75;
  s.scaling_interval = 10s;
  s.cooldown = 60s;
  s.required_consecutive = 2;
  s.backlog_intervals = 2;
  return s;
}

pool_load load_of(std::size_t current, double utilization, std::size_t queue = 0,
                  double throughput = 0.0) {
  return pool_load{current, 2, 10, utilization, queue, throughput, std::nullopt};
}

// Applies decisions to a pool count the way a pool supervisor would.
std::size_t apply(std::size_t current, const scaling_decision& d) {
  if (d.action == scaling_action::up)
    return current + d.count;
  if (d.action == scaling_action::down)
    return current - d.count;
  return current;
}

} // namespace

TEST_CASE("the bare utilization rule follows the seed's formula") {
  auto up = utilization_rule(load_of(4, 1.0), 0.75);
  CHECK(up.action == scaling_action::up);
  CHECK(up.count == 2); // ceil(4 × 1.33) = 6
  auto capped = utilization_rule(load_of(9, 1.0), 0.75);
  CHECK(capped.count == 1); // clamped to max 10
  auto down = utilization_rule(load_of(8, 0.1), 0.75);
  CHECK(down.action == scaling_action::down);
  CHECK(down.count == 3); // (8 − 2) / 2
  CHECK(utilization_rule(load_of(4, 0.6), 0.75).action == scaling_action::none);
}

TEST_CASE("sustained high utilization scales the pool up once the condition has held") {
  scaling_policy policy{fast_settings()};
  auto first = policy.evaluate("claimer", load_of(4, 1.0), t0);
  CHECK(first.action == scaling_action::none);
  CHECK(first.reason.find("held 1 of 2") != std::string::npos);
  auto second = policy.evaluate("claimer", load_of(4, 1.0), t0 + 10s);
  CHECK(second.action == scaling_action::up);
  CHECK(second.count == 2);
  CHECK(policy.last_action("claimer") == t0 + 10s);
}

TEST_CASE("an idle pool with an empty queue scales down") {
  scaling_policy policy{fast_settings()};
  policy.evaluate("finalizer", load_of(6, 0.05), t0);
  auto d = policy.evaluate("finalizer", load_of(6, 0.05), t0 + 10s);
  CHECK(d.action == scaling_action::down);
  CHECK(d.count == 2);
}

TEST_CASE("low utilization with work still waiting beyond one interval does not scale down") {
  scaling_policy policy{fast_settings()};
  // 15 queued at 1/s: drains within two intervals (no backlog) but not within one.
  for (int i = 0; i < 4; ++i)
    CHECK(policy.evaluate("enqueuer", load_of(6, 0.1, 15, 1.0), t0 + i * 10s).action ==
          scaling_action::none);
}

TEST_CASE("scaling never goes above max or below min") {
  scaling_settings s = fast_settings();
  s.required_consecutive = 1;
  s.cooldown = 0s;
  scaling_policy policy{s};
  std::size_t count = 3;
  for (int i = 0; i < 20; ++i) {
    count = apply(count, policy.evaluate("p", load_of(count, 1.0, 10000, 1.0), t0 + i * 10s));
    CHECK(count <= 10);
  }
  CHECK(count == 10);
  for (int i = 20; i < 40; ++i) {
    count = apply(count, policy.evaluate("p", load_of(count, 0.0), t0 + i * 10s));
    CHECK(count >= 2);
  }
  CHECK(count == 2);
}

TEST_CASE("a pool outside its bounds is corrected immediately") {
  scaling_policy policy{fast_settings()};
  auto over = policy.evaluate("p", load_of(13, 0.7), t0);
  CHECK(over.action == scaling_action::down);
  CHECK(over.count == 3);
  auto under = policy.evaluate("q", load_of(0, 0.7), t0);
  CHECK(under.action == scaling_action::up);
  CHECK(under.count == 2);
}

TEST_CASE("cooldown prevents oscillation under load that alternates high and low every tick") {
  scaling_settings s = fast_settings();
  s.required_consecutive = 1; // hysteresis off: only the cooldown stands in the way
  scaling_policy policy{s};
  std::size_t count = 5;
  std::vector<time_point> actions;
  for (int i = 0; i < 60; ++i) {
    const double util = i % 2 == 0 ? 1.0 : 0.0;
    const auto now = t0 + i * 10s;
    auto d = policy.evaluate("p", load_of(count, util), now);
    if (d.action != scaling_action::none)
      actions.push_back(now);
    count = apply(count, d);
  }
  REQUIRE(actions.size() >= 2);
  for (std::size_t i = 1; i < actions.size(); ++i)
    CHECK(actions[i] - actions[i - 1] >= 60s);
  CHECK(actions.size() <= 600 / 60);
}

TEST_CASE("hysteresis alone keeps an alternating load from ever acting") {
  scaling_policy policy{fast_settings()};
  for (int i = 0; i < 40; ++i) {
    const double util = i % 2 == 0 ? 1.0 : 0.0;
    CHECK(policy.evaluate("p", load_of(5, util), t0 + i * 10s).action == scaling_action::none);
  }
}

TEST_CASE("a scale-down right after a scale-up waits for the cooldown and a sustained low") {
  scaling_policy policy{fast_settings()};
  policy.evaluate("p", load_of(4, 1.0), t0);
  REQUIRE(policy.evaluate("p", load_of(4, 1.0), t0 + 10s).action == scaling_action::up);
  // Idle right away: within the cooldown nothing happens however long it lasts.
  for (auto at = t0 + 20s; at < t0 + 70s; at += 10s) {
    auto d = policy.evaluate("p", load_of(6, 0.0), at);
    CHECK(d.action == scaling_action::none);
    CHECK(d.reason.find("cooldown") != std::string::npos);
  }
  auto after = policy.evaluate("p", load_of(6, 0.0), t0 + 70s);
  CHECK(after.action == scaling_action::down);
}

TEST_CASE("a reversal needs the opposite condition to hold after the cooldown ends") {
  scaling_policy policy{fast_settings()};
  policy.evaluate("p", load_of(4, 1.0), t0);
  REQUIRE(policy.evaluate("p", load_of(4, 1.0), t0 + 10s).action == scaling_action::up);
  // The cooldown has passed but low utilization has been seen only once.
  CHECK(policy.evaluate("p", load_of(6, 0.0), t0 + 80s).action == scaling_action::none);
  CHECK(policy.evaluate("p", load_of(6, 0.0), t0 + 90s).action == scaling_action::down);
}

TEST_CASE("a queue backlog the pool cannot drain triggers scale-up at moderate utilization") {
  scaling_policy policy{fast_settings()};
  // 0.6 is under the 0.9 trigger; 1000 queued at 5/s cannot drain in 2 × 10 s.
  policy.evaluate("results", load_of(3, 0.6, 1000, 5.0), t0);
  auto d = policy.evaluate("results", load_of(3, 0.6, 1000, 5.0), t0 + 10s);
  CHECK(d.action == scaling_action::up);
  CHECK(d.count == 3); // backlog ratio 10 is capped at doubling
  CHECK(d.reason.find("backlog") != std::string::npos);
}

TEST_CASE("a queue the pool drains in time does not trigger scale-up") {
  scaling_policy policy{fast_settings()};
  for (int i = 0; i < 4; ++i)
    CHECK(policy.evaluate("results", load_of(3, 0.6, 80, 5.0), t0 + i * 10s).action ==
          scaling_action::none);
}

TEST_CASE("pools keep independent cooldowns") {
  scaling_policy policy{fast_settings()};
  policy.evaluate("a", load_of(4, 1.0), t0);
  REQUIRE(policy.evaluate("a", load_of(4, 1.0), t0 + 10s).action == scaling_action::up);
  policy.evaluate("b", load_of(4, 1.0), t0 + 10s);
  CHECK(policy.evaluate("b", load_of(4, 1.0), t0 + 20s).action == scaling_action::up);
  CHECK(policy.last_action("a") == t0 + 10s);
  policy.reset("a");
  CHECK(policy.last_action("a") == time_point{});
}

TEST_CASE("scaling actions have readable names") {
  CHECK(to_string(scaling_action::up) == "up");
  CHECK(to_string(scaling_action::down) == "down");
  CHECK(to_string(scaling_action::none) == "none");
}

TEST_CASE("a saturated host CPU holds scale-ups but not scale-downs") {
  scaling_policy policy{fast_settings()};
  auto busy = load_of(4, 1.0);
  busy.host_cpu = 0.95;
  for (int i = 0; i < 4; ++i) {
    auto d = policy.evaluate("claimer", busy, t0 + i * 10s);
    CHECK(d.action == scaling_action::none);
    CHECK(d.held_by_cpu);
    CHECK(d.reason.find("host CPU 95%") != std::string::npos);
  }
  // A backlog is held the same way.
  auto backlog = load_of(4, 0.5, 10000, 10.0);
  backlog.host_cpu = 0.9;
  auto held = policy.evaluate("claimer", backlog, t0 + 40s);
  CHECK(held.held_by_cpu);
  CHECK(held.reason.find("backlog of 10000") != std::string::npos);
  // Once the cores have room the hysteresis starts afresh: two evaluations.
  busy.host_cpu = 0.5;
  CHECK(policy.evaluate("claimer", busy, t0 + 50s).action == scaling_action::none);
  auto up = policy.evaluate("claimer", busy, t0 + 60s);
  CHECK(up.action == scaling_action::up);
  CHECK_FALSE(up.held_by_cpu);
  // Idle pools still shrink on a busy host.
  auto idle = load_of(8, 0.05);
  idle.host_cpu = 1.0;
  policy.evaluate("enqueuer", idle, t0);
  CHECK(policy.evaluate("enqueuer", idle, t0 + 10s).action == scaling_action::down);
}

TEST_CASE("the CPU check is off at a ceiling of 1.0 or when the host CPU is unknown") {
  auto settings = fast_settings();
  settings.scale_up_cpu_ceiling = 1.0;
  scaling_policy off{settings};
  auto busy = load_of(4, 1.0);
  busy.host_cpu = 1.0;
  off.evaluate("claimer", busy, t0);
  CHECK(off.evaluate("claimer", busy, t0 + 10s).action == scaling_action::up);
  scaling_policy unknown{fast_settings()};
  auto unmeasured = load_of(4, 1.0);
  unknown.evaluate("claimer", unmeasured, t0);
  CHECK(unknown.evaluate("claimer", unmeasured, t0 + 10s).action == scaling_action::up);
}
