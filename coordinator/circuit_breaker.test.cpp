#include "coordinator/circuit_breaker.hpp"

#include <doctest/doctest.h>

using namespace tasker::coordinator;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{} + 1000s;

circuit_breaker tripped() {
  circuit_breaker b{{3, 30s, 2}};
  for (int i = 0; i < 3; ++i)
    b.record_failure(t0);
  return b;
}

} // namespace

TEST_CASE("the breaker opens after the threshold of consecutive failures") {
  circuit_breaker b{{3, 30s, 2}};
  b.record_failure(t0);
  b.record_failure(t0);
  CHECK(b.state() == breaker_state::closed);
  CHECK(b.allow_request(t0));
  b.record_failure(t0);
  CHECK(b.state() == breaker_state::open);
  CHECK(b.opens() == 1);
  CHECK(b.total_failures() == 3);
}

TEST_CASE("a success between failures resets the consecutive count") {
  circuit_breaker b{{3, 30s, 2}};
  b.record_failure(t0);
  b.record_failure(t0);
  b.record_success(t0);
  b.record_failure(t0);
  CHECK(b.state() == breaker_state::closed);
  CHECK(b.consecutive_failures() == 1);
}

TEST_CASE("an open breaker refuses requests until its timeout passes") {
  auto b = tripped();
  CHECK_FALSE(b.allow_request(t0 + 1s));
  CHECK_FALSE(b.allow_request(t0 + 29s));
  CHECK(b.rejected() == 2);
  CHECK(b.state() == breaker_state::open);
}

TEST_CASE("after its timeout the breaker half-opens and admits exactly one probe") {
  auto b = tripped();
  CHECK(b.allow_request(t0 + 30s));
  CHECK(b.state() == breaker_state::half_open);
  CHECK_FALSE(b.allow_request(t0 + 31s));
  CHECK_FALSE(b.allow_request(t0 + 32s));
  b.record_success(t0 + 33s);
  CHECK(b.state() == breaker_state::half_open);
  CHECK(b.allow_request(t0 + 34s));
}

TEST_CASE("the breaker closes after the success threshold of probes") {
  auto b = tripped();
  REQUIRE(b.allow_request(t0 + 30s));
  b.record_success(t0 + 31s);
  REQUIRE(b.allow_request(t0 + 32s));
  b.record_success(t0 + 33s);
  CHECK(b.state() == breaker_state::closed);
  CHECK(b.allow_request(t0 + 34s));
  CHECK(b.allow_request(t0 + 34s));
}

TEST_CASE("a failed probe re-opens the breaker for another full timeout") {
  auto b = tripped();
  REQUIRE(b.allow_request(t0 + 30s));
  b.record_failure(t0 + 31s);
  CHECK(b.state() == breaker_state::open);
  CHECK(b.opens() == 2);
  CHECK_FALSE(b.allow_request(t0 + 60s));
  CHECK(b.allow_request(t0 + 61s));
}

TEST_CASE("a probe that never reports is replaced after another timeout") {
  auto b = tripped();
  REQUIRE(b.allow_request(t0 + 30s));
  CHECK_FALSE(b.allow_request(t0 + 59s));
  CHECK(b.allow_request(t0 + 60s));
}

TEST_CASE("breaker states have readable names") {
  CHECK(to_string(breaker_state::closed) == "closed");
  CHECK(to_string(breaker_state::open) == "open");
  CHECK(to_string(breaker_state::half_open) == "half_open");
}
