#include "coordinator/utilization_window.hpp"

#include <doctest/doctest.h>

using namespace tasker::coordinator;
using namespace std::chrono_literals;

namespace {
const time_point t0 = time_point{} + 1000s;
constexpr std::uint64_t sec = 1'000'000'000;
} // namespace

TEST_CASE("pool utilization is summed busy time over summed wall time") {
  utilization_window w{30s};
  w.record(1, 9 * sec, 10 * sec, t0);
  w.record(2, 1 * sec, 10 * sec, t0);
  CHECK(w.utilization(t0) == doctest::Approx(0.5));
  CHECK(w.executor_utilization(1, t0) == doctest::Approx(0.9));
  CHECK(w.executor_utilization(2, t0) == doctest::Approx(0.1));
  CHECK(w.totals(t0).busy_ns == 10 * sec);
  CHECK(w.executor_count() == 2);
}

TEST_CASE("reports older than the window no longer count") {
  utilization_window w{30s};
  w.record(1, 10 * sec, 10 * sec, t0);
  w.record(1, 0, 10 * sec, t0 + 20s);
  CHECK(w.utilization(t0 + 20s) == doctest::Approx(0.5));
  CHECK(w.utilization(t0 + 40s) == doctest::Approx(0.0));
  w.record(1, 0, 10 * sec, t0 + 40s);
  CHECK(w.totals(t0 + 40s).wall_ns == 20 * sec);
}

TEST_CASE("an empty window reports zero utilization") {
  utilization_window w{30s};
  CHECK(w.utilization(t0) == 0.0);
  CHECK(w.executor_utilization(99, t0) == 0.0);
}

TEST_CASE("busy time beyond wall time is clamped so utilization never exceeds one") {
  utilization_window w{30s};
  w.record(1, 12 * sec, 10 * sec, t0);
  CHECK(w.utilization(t0) == doctest::Approx(1.0));
}

TEST_CASE("pruning removes executors whose reports have all aged out") {
  utilization_window w{30s};
  w.record(1, 1 * sec, 10 * sec, t0);
  w.record(2, 1 * sec, 10 * sec, t0 + 35s);
  w.prune(t0 + 35s);
  CHECK(w.executor_count() == 1);
  w.forget(2);
  CHECK(w.executor_count() == 0);
}
