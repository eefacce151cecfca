#include "actors/processors/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace tasker::actors {

std::chrono::milliseconds backoff_delay(std::int32_t attempts,
                                        const messaging::backoff_policy& policy,
                                        double jitter_sample) {
  // Computed in double: 2^(attempts-1) overflows any integer long before
  // attempts reaches max_retry_limit, and the cap applies before jitter.
  const double exponent = std::max(attempts, 1) - 1;
  const double raw = static_cast<double>(policy.base_ms) * std::pow(2.0, exponent);
  const double capped = std::min(raw, static_cast<double>(policy.max_ms));
  const double sample = std::clamp(jitter_sample, -1.0, 1.0);
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  return std::chrono::milliseconds{std::llround(capped * (1.0 + jitter * sample))};
}

} // namespace tasker::actors
