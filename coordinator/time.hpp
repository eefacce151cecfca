#pragma once
/// Time types shared by the coordinator's policies.
///
/// Every policy takes the current time as an argument instead of reading a
/// clock, so the same code runs under the actors' timers and in deterministic
/// tests.

#include <chrono>

namespace tasker::coordinator {

/// A point on the monotonic clock the runtime schedules with.
using time_point = std::chrono::steady_clock::time_point;

/// A span of monotonic time.
using duration = std::chrono::steady_clock::duration;

/// `d` in seconds as a double, for rates and for human-readable reasons.
inline double to_seconds(duration d) noexcept {
  return std::chrono::duration<double>(d).count();
}

} // namespace tasker::coordinator
