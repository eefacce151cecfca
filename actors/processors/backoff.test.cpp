#include "actors/processors/backoff.hpp"

#include <doctest/doctest.h>

using std::chrono::milliseconds;
using tasker::actors::backoff_delay;
using tasker::messaging::backoff_policy;

TEST_CASE("backoff doubles from the base delay with each failed attempt") {
  backoff_policy p{500, 60000, 0.0};
  CHECK(backoff_delay(1, p, 0.0) == milliseconds{500});
  CHECK(backoff_delay(2, p, 0.0) == milliseconds{1000});
  CHECK(backoff_delay(3, p, 0.0) == milliseconds{2000});
  CHECK(backoff_delay(0, p, 0.0) == milliseconds{500});
}

TEST_CASE("backoff is capped at max_ms however many attempts failed") {
  backoff_policy p{1000, 5000, 0.0};
  CHECK(backoff_delay(4, p, 0.0) == milliseconds{5000});
  CHECK(backoff_delay(100, p, 0.0) == milliseconds{5000});
}

TEST_CASE("jitter spreads the delay by at most the jitter fraction either way") {
  backoff_policy p{1000, 60000, 0.1};
  CHECK(backoff_delay(1, p, -1.0) == milliseconds{900});
  CHECK(backoff_delay(1, p, 1.0) == milliseconds{1100});
  CHECK(backoff_delay(1, p, 0.5) == milliseconds{1050});
  CHECK(backoff_delay(1, p, 7.0) == milliseconds{1100}); // samples are clamped to [-1, 1]
}
