#include "observability/throughput.hpp"

#include <doctest/doctest.h>

using namespace tasker::observability;
using namespace std::chrono_literals;

namespace {
const auto t0 = throughput_tracker::clock::time_point{} + 1000s;
} // namespace

TEST_CASE("throughput is the item delta over the time between samples") {
  throughput_tracker t{30s};
  t.record("task_claimer", 100, t0);
  t.record("task_claimer", 150, t0 + 10s);
  CHECK(t.rate("task_claimer") == doctest::Approx(5.0));
  CHECK(t.rate("unknown") == 0.0);
}

TEST_CASE("samples older than the window are dropped so the rate follows recent load") {
  throughput_tracker t{10s};
  t.record("p", 0, t0);
  t.record("p", 1000, t0 + 5s);  // a burst
  t.record("p", 1000, t0 + 20s); // then idle
  t.record("p", 1010, t0 + 30s);
  // Only the samples spanning the last window remain: 10 items over 10 s.
  CHECK(t.rate("p") == doctest::Approx(1.0));
}

TEST_CASE("a single sample falls back to items over the given elapsed time") {
  throughput_tracker t{30s};
  t.record("p", 60, t0);
  CHECK(t.rate("p", 30s) == doctest::Approx(2.0));
  CHECK(t.rate("p") == 0.0);
}

TEST_CASE("a counter that goes back starts a fresh history") {
  throughput_tracker t{30s};
  t.record("p", 500, t0);
  t.record("p", 10, t0 + 5s);
  t.record("p", 30, t0 + 15s);
  CHECK(t.rate("p") == doctest::Approx(2.0));
}

TEST_CASE("pools that are gone are forgotten") {
  throughput_tracker t{30s};
  t.record("a", 10, t0);
  t.record("a", 20, t0 + 1s);
  t.record("b", 10, t0);
  t.forget_all_but({{"b", 10}});
  CHECK(t.rate("a") == 0.0);
  CHECK(t.rate("b", 10s) == doctest::Approx(1.0));
}
