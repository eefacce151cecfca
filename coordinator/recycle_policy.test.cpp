#include "coordinator/recycle_policy.hpp"

#include <doctest/doctest.h>

using namespace tasker::coordinator;
using namespace std::chrono_literals;

namespace {
const time_point t0 = time_point{} + 1000s;
} // namespace

TEST_CASE("an executor is recycled after its batch limit") {
  recycle_policy p{{1000, 0s}};
  CHECK_FALSE(p.evaluate(999, t0, t0 + 1h).due);
  auto v = p.evaluate(1000, t0, t0 + 1h);
  CHECK(v.due);
  CHECK(v.reason.find("1000 batches") != std::string::npos);
}

TEST_CASE("an executor is recycled after its lifetime") {
  recycle_policy p{{0, 3600s}};
  CHECK_FALSE(p.evaluate(1'000'000, t0, t0 + 3599s).due);
  auto v = p.evaluate(0, t0, t0 + 3600s);
  CHECK(v.due);
  CHECK(v.reason.find("3600s") != std::string::npos);
}

TEST_CASE("zero limits never recycle") {
  recycle_policy p;
  CHECK_FALSE(p.enabled());
  CHECK_FALSE(p.evaluate(1'000'000'000, t0, t0 + 24h * 365).due);
  CHECK(recycle_policy{{5, 0s}}.enabled());
}
