#include "coordinator/batch_growth.hpp"

#include <doctest/doctest.h>

using tasker::coordinator::batch_growth;

TEST_CASE("full batches double the next batch up to the maximum") {
  batch_growth g{10, 75};
  CHECK(g.size() == 10);
  g.record(10, 10, false, false);
  CHECK(g.size() == 20);
  g.record(20, 20, false, false);
  CHECK(g.size() == 40);
  g.record(40, 40, false, false);
  CHECK(g.size() == 75);
  g.record(75, 75, false, false);
  CHECK(g.size() == 75);
}

TEST_CASE("a batch that is not full, fails or is throttled returns to the base size") {
  batch_growth g{10, 400};
  g.record(10, 10, false, false);
  g.record(20, 20, false, false);
  REQUIRE(g.size() == 40);
  g.record(39, 40, false, false);
  CHECK(g.size() == 10);
  g.record(10, 10, false, false);
  REQUIRE(g.size() == 20);
  g.record(20, 20, true, false);
  CHECK(g.size() == 10);
  g.record(10, 10, false, false);
  REQUIRE(g.size() == 20);
  g.record(20, 20, false, true);
  CHECK(g.size() == 10);
  // A backpressure-shrunk batch asked for fewer than size(): full is what it asked.
  g.record(0, 0, false, false);
  CHECK(g.size() == 10);
}

TEST_CASE("a maximum at or below the base size means no growth") {
  for (std::size_t max : {0, 5, 10}) {
    CAPTURE(max);
    batch_growth g{10, max};
    g.record(10, 10, false, false);
    CHECK(g.size() == 10);
  }
  batch_growth one{0, 0};
  CHECK(one.size() == 1);
}

TEST_CASE("growth stops at the maximum without overflowing") {
  batch_growth g{1, static_cast<std::size_t>(-1)};
  for (int i = 0; i < 100; ++i)
    g.record(g.size(), g.size(), false, false);
  CHECK(g.size() == static_cast<std::size_t>(-1));
}
