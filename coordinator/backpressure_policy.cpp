#include "coordinator/backpressure_policy.hpp"

#include <algorithm>
#include <cmath>

namespace tasker::coordinator {

namespace {

// Absorbs representation error such as 100 × 0.29 = 28.999999999999996.
constexpr double floor_epsilon = 1e-9;

} // namespace

backpressure_policy::backpressure_policy(backpressure_settings settings) : settings_(settings) {}

backpressure_update backpressure_policy::update(double saturation) {
  if (std::isnan(saturation))
    return {factor_, false, engaged_};
  saturation = std::clamp(saturation, 0.0, 1.0);
  const double previous = factor_;

  if (!engaged_ && saturation > settings_.max_db_pool_usage) {
    engaged_ = true;
    ++engagements_;
    factor_ = std::max(1.0 - saturation, min_backpressure_factor);
  } else if (engaged_ && saturation < settings_.max_db_pool_usage - settings_.release_margin) {
    engaged_ = false;
    factor_ = 1.0;
  } else if (engaged_) {
    // Inside the hysteresis band the factor keeps following saturation.
    const double wanted = std::max(1.0 - saturation, min_backpressure_factor);
    if (std::abs(wanted - factor_) >= settings_.min_step)
      factor_ = wanted;
  }

  const bool changed = factor_ != previous;
  if (changed)
    ++changes_;
  return {factor_, changed, engaged_};
}

double clamp_backpressure_factor(double factor) noexcept {
  if (std::isnan(factor))
    return 1.0;
  return std::clamp(factor, min_backpressure_factor, 1.0);
}

duration effective_poll_interval(duration base, double factor) noexcept {
  const double f = clamp_backpressure_factor(factor);
  return std::chrono::duration_cast<duration>(
      std::chrono::duration<double, duration::period>(static_cast<double>(base.count()) / f));
}

std::size_t effective_batch_size(std::size_t base, double factor) noexcept {
  const double f = clamp_backpressure_factor(factor);
  const auto scaled =
      static_cast<std::size_t>(std::floor(static_cast<double>(base) * f + floor_epsilon));
  return std::max<std::size_t>(scaled, 1);
}

} // namespace tasker::coordinator
