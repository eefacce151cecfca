#pragma once
/// A circuit breaker per executor type: closed, open, half-open.

#include "coordinator/time.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>

namespace tasker::coordinator {

/// The breaker's position.
enum class breaker_state { closed, open, half_open };

/// Lower-case name of `state` ("half_open" for half-open) for logs and metrics.
std::string_view to_string(breaker_state state) noexcept;

/// Thresholds for one breaker.
struct breaker_settings {
  /// Consecutive failures that open a closed breaker.
  std::uint32_t failure_threshold = 5;
  /// How long an open breaker refuses before it lets a probe through.
  duration open_timeout = std::chrono::seconds{30};
  /// Successful probes in half-open needed to close again.
  std::uint32_t success_threshold = 2;
};

/// Counts real failures of an executor type's work and stops that work while
/// the dependency is failing.
///
/// Half-open admits exactly one probe at a time; further requests are refused
/// until the probe reports. A probe that never reports (its executor died)
/// would wedge the breaker, so after another open_timeout a new probe is let
/// through.
class circuit_breaker {
public:
  /// Creates a closed breaker; zero thresholds are treated as 1.
  explicit circuit_breaker(breaker_settings settings = {});

  /// Whether a request may run now; moves open → half-open once the timeout passed.
  bool allow_request(time_point now);

  /// Reports that an admitted request succeeded.
  void record_success(time_point now);

  /// Reports that an admitted request failed.
  void record_failure(time_point now);

  /// The current position, as of the last call.
  breaker_state state() const noexcept { return state_; }

  /// Times the breaker has opened.
  std::uint64_t opens() const noexcept { return opens_; }

  /// Every failure ever recorded, in any state.
  std::uint64_t total_failures() const noexcept { return total_failures_; }

  /// Requests refused by allow_request.
  std::uint64_t rejected() const noexcept { return rejected_; }

  /// Failures since the last success while closed.
  std::uint32_t consecutive_failures() const noexcept { return consecutive_failures_; }

  /// The thresholds in use.
  const breaker_settings& settings() const noexcept { return settings_; }

private:
  void open(time_point now);

  breaker_settings settings_;
  breaker_state state_ = breaker_state::closed;
  time_point opened_at_{};
  time_point probe_started_{};
  bool probe_in_flight_ = false;
  std::uint32_t consecutive_failures_ = 0;
  std::uint32_t half_open_successes_ = 0;
  std::uint64_t opens_ = 0;
  std::uint64_t total_failures_ = 0;
  std::uint64_t rejected_ = 0;
};

} // namespace tasker::coordinator
