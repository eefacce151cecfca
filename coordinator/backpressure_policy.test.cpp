#include "coordinator/backpressure_policy.hpp"

#include <doctest/doctest.h>

using namespace tasker::coordinator;
using namespace std::chrono_literals;

namespace {

backpressure_settings exact() {
  backpressure_settings s;
  s.min_step = 0.0;
  return s;
}

} // namespace

TEST_CASE("backpressure stays off up to the pool usage threshold") {
  backpressure_policy p;
  auto u = p.update(0.85);
  CHECK_FALSE(u.engaged);
  CHECK_FALSE(u.changed);
  CHECK(u.factor == 1.0);
  CHECK(p.engagements() == 0);
}

TEST_CASE("backpressure engages above the threshold with factor one minus saturation") {
  backpressure_policy p;
  auto u = p.update(0.88);
  CHECK(u.engaged);
  CHECK(u.changed);
  CHECK(u.factor == doctest::Approx(0.12));
  CHECK(p.engagements() == 1);
}

TEST_CASE("the backpressure factor never drops below 0.1") {
  backpressure_policy p{exact()};
  CHECK(p.update(0.97).factor == doctest::Approx(0.1));
  CHECK(p.update(1.0).factor == doctest::Approx(0.1));
  CHECK(p.update(5.0).factor == doctest::Approx(0.1));
}

TEST_CASE("backpressure is released only below the hysteresis band") {
  backpressure_policy p{exact()};
  p.update(0.90);
  auto in_band = p.update(0.80);
  CHECK(in_band.engaged);
  CHECK(in_band.factor == doctest::Approx(0.20));
  CHECK(p.update(0.76).engaged);
  auto released = p.update(0.74);
  CHECK_FALSE(released.engaged);
  CHECK(released.changed);
  CHECK(released.factor == 1.0);
  CHECK(p.engagements() == 1);
  p.update(0.9);
  CHECK(p.engagements() == 2);
}

TEST_CASE("an unchanged factor is not reported as a change") {
  backpressure_policy p;
  REQUIRE(p.update(0.90).changed);
  CHECK_FALSE(p.update(0.90).changed);
  CHECK_FALSE(p.update(0.88).changed); // a 0.02 move is below the reporting step
  CHECK(p.update(0.80).changed);
  CHECK(p.changes() == 2);
}

TEST_CASE("executors poll more slowly under backpressure") {
  CHECK(effective_poll_interval(100ms, 1.0) == 100ms);
  CHECK(effective_poll_interval(100ms, 0.5) == 200ms);
  CHECK(effective_poll_interval(100ms, 0.0) == 1000ms);
  CHECK(effective_poll_interval(100ms, 3.0) == 100ms);
}

TEST_CASE("executors take smaller batches under backpressure but never below ten percent") {
  CHECK(effective_batch_size(50, 1.0) == 50);
  CHECK(effective_batch_size(50, 0.5) == 25);
  CHECK(effective_batch_size(100, 0.29) == 29);
  CHECK(effective_batch_size(50, 0.01) == 5);
  CHECK(effective_batch_size(5, 0.1) == 1);
  CHECK(effective_batch_size(10, 0.3) == 3);
}
