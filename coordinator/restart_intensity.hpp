#pragma once
/// OTP-style restart intensity: too many restarts in a period escalate.

#include "coordinator/time.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <string_view>

namespace tasker::coordinator {

/// Whether a restart may proceed or the supervisor must give up and escalate.
enum class restart_verdict { allowed, escalate };

/// Lower-case name of `verdict` for logs.
std::string_view to_string(restart_verdict verdict) noexcept;

/// The intensity limit: at most max_restarts within any period.
struct restart_settings {
  /// Restarts tolerated within one period.
  std::size_t max_restarts = 3;
  /// The sliding period restarts are counted over.
  duration period = std::chrono::seconds{5};
};

/// Counts restarts in a sliding period, as an OTP supervisor does.
///
/// A crash loop restarting faster than the limit is a fault a restart will
/// not fix, so the (max_restarts + 1)th restart within the period escalates.
class restart_intensity {
public:
  /// Creates a tracker with no restarts recorded.
  explicit restart_intensity(restart_settings settings = {});

  /// Records a restart at `now` and says whether it is within the limit.
  restart_verdict record_restart(time_point now);

  /// Restarts still inside the period ending at `now`.
  std::size_t recent(time_point now) const;

  /// Forgets every recorded restart, e.g. after escalation was handled.
  void reset() noexcept { restarts_.clear(); }

  /// The limit in use.
  const restart_settings& settings() const noexcept { return settings_; }

private:
  restart_settings settings_;
  std::deque<time_point> restarts_;
};

} // namespace tasker::coordinator
