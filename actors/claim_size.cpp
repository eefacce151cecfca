#include "actors/claim_size.hpp"

#include <algorithm>
#include <cstdint>

namespace tasker::actors {

claim_size::claim_size(std::size_t max, std::chrono::nanoseconds horizon)
  : max_(std::max<std::size_t>(max, 1)),
    horizon_(std::max(horizon, std::chrono::nanoseconds{1})) {}

void claim_size::record(std::size_t steps, std::chrono::nanoseconds run_time) noexcept {
  if (steps == 0)
    return;
  const auto per_step =
    std::max(run_time, std::chrono::nanoseconds{0}) / static_cast<std::int64_t>(steps);
  average_ = average_.count() == 0 && per_step.count() > 0
               ? per_step
               : (average_ * 7 + per_step * 3) / 10;
  // At least 1 ns, so that instant handlers make the pace unbounded, not a
  // division by zero.
  const auto pace = static_cast<std::size_t>(
    horizon_ / std::max(average_, std::chrono::nanoseconds{1}));
  next_ = std::clamp<std::size_t>(std::min(pace, next_ * 2), 1, max_);
}

} // namespace tasker::actors
