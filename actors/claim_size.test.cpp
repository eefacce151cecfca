#include "actors/claim_size.hpp"

#include <doctest/doctest.h>

using namespace tasker::actors;
using namespace std::chrono_literals;

TEST_CASE("a new worker actor claims one step, then at most twice as many while steps are quick") {
  claim_size size{32, 20ms};
  CHECK(size.next() == 1);
  std::size_t expected = 1;
  for (int i = 0; i < 8; ++i) {
    size.record(size.next(), size.next() * 10us);
    expected = std::min<std::size_t>(expected * 2, 32);
    CHECK(size.next() == expected);
  }
  CHECK(size.next() == 32);
  CHECK(size.average() == 10us);
}

TEST_CASE("slow steps bring the claim down to what finishes within the horizon") {
  claim_size size{32, 20ms};
  for (int i = 0; i < 6; ++i)
    size.record(size.next(), size.next() * 10us);
  REQUIRE(size.next() == 32);
  size.record(32, 32 * 5ms);
  // average 0.7 * 10 us + 0.3 * 5 ms = 1.507 ms: 13 steps fit in 20 ms
  CHECK(size.average() == 1507us);
  CHECK(size.next() == 13);
  for (int i = 0; i < 30; ++i)
    size.record(size.next(), size.next() * 5ms);
  CHECK(size.next() == 4);
}

TEST_CASE("a step slower than the horizon is claimed one at a time") {
  claim_size size{32, 20ms};
  for (int i = 0; i < 6; ++i)
    size.record(size.next(), size.next() * 10us);
  for (int i = 0; i < 10; ++i)
    size.record(size.next(), size.next() * 100ms);
  CHECK(size.next() == 1);
}

TEST_CASE("instant steps grow the claim to its maximum, and an empty claim changes nothing") {
  claim_size size{4, 20ms};
  size.record(1, 0ns);
  CHECK(size.next() == 2);
  size.record(0, 10s);
  CHECK(size.next() == 2);
  CHECK(size.average() == 0ns);
  size.record(2, 0ns);
  size.record(4, 0ns);
  CHECK(size.next() == 4);
}

TEST_CASE("a maximum below one claims one step") {
  claim_size size{0, 20ms};
  size.record(1, 1us);
  CHECK(size.next() == 1);
}
