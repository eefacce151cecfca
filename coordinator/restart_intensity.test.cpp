#include "coordinator/restart_intensity.hpp"

#include <doctest/doctest.h>

using namespace tasker::coordinator;
using namespace std::chrono_literals;

namespace {
const time_point t0 = time_point{} + 1000s;
} // namespace

TEST_CASE("restart intensity escalates on the restart after the limit within the period") {
  restart_intensity r{{3, 10s}};
  CHECK(r.record_restart(t0) == restart_verdict::allowed);
  CHECK(r.record_restart(t0 + 1s) == restart_verdict::allowed);
  CHECK(r.record_restart(t0 + 2s) == restart_verdict::allowed);
  CHECK(r.record_restart(t0 + 3s) == restart_verdict::escalate);
  CHECK(r.recent(t0 + 3s) == 4);
}

TEST_CASE("restarts spread out over time never escalate") {
  restart_intensity r{{3, 10s}};
  for (int i = 0; i < 20; ++i)
    CHECK(r.record_restart(t0 + i * 4s) == restart_verdict::allowed);
}

TEST_CASE("old restarts age out of the period") {
  restart_intensity r{{2, 10s}};
  r.record_restart(t0);
  r.record_restart(t0 + 1s);
  CHECK(r.recent(t0 + 10s) == 1);
  CHECK(r.record_restart(t0 + 10s) == restart_verdict::allowed);
  CHECK(r.record_restart(t0 + 10s) == restart_verdict::escalate);
  r.reset();
  CHECK(r.recent(t0 + 10s) == 0);
}

TEST_CASE("restart verdicts have readable names") {
  CHECK(to_string(restart_verdict::allowed) == "allowed");
  CHECK(to_string(restart_verdict::escalate) == "escalate");
}
