#include "coordinator/health_policy.hpp"

#include "coordinator/detail/text.hpp"

#include <algorithm>

namespace tasker::coordinator {

using detail::format_text;

std::string_view to_string(health_state state) noexcept {
  switch (state) {
  case health_state::starting:
    return "starting";
  case health_state::healthy:
    return "healthy";
  case health_state::degraded:
    return "degraded";
  case health_state::unhealthy:
    return "unhealthy";
  case health_state::stopping:
    return "stopping";
  }
  return "unknown";
}

duration health_settings::stale_threshold() const {
  return std::chrono::duration_cast<duration>(heartbeat_interval * stale_after_intervals);
}

health_policy::health_policy(health_settings settings) : settings_(settings) {}

double health_policy::error_rate(const health_observation& seen) const {
  if (seen.items == 0 || seen.items < settings_.minimum_items)
    return 0.0;
  return std::min(1.0, static_cast<double>(seen.errors) / static_cast<double>(seen.items));
}

health_verdict health_policy::evaluate(health_state previous,
                                       const health_observation& seen) const {
  const double rate = error_rate(seen);
  if (seen.stopping || previous == health_state::stopping) {
    return {health_state::stopping,
            seen.graceful ? "draining in-flight work" : "stopping immediately", rate,
            seen.graceful};
  }
  if (previous == health_state::unhealthy)
    return {health_state::unhealthy, "awaiting replacement", rate, true};

  const duration stale = settings_.stale_threshold();
  if (!seen.last_heartbeat) {
    if (seen.now - seen.started_at > stale)
      return {health_state::unhealthy,
              format_text("no heartbeat %.1fs after start", to_seconds(seen.now - seen.started_at)),
              rate, true};
    return {health_state::starting, "waiting for first heartbeat", rate, true};
  }
  const duration age = seen.now - *seen.last_heartbeat;
  if (age > stale)
    return {
        health_state::unhealthy,
        format_text("last heartbeat %.1fs ago exceeds %.1fs", to_seconds(age), to_seconds(stale)),
        rate, true};
  if (rate > settings_.unhealthy_error_rate)
    return {health_state::unhealthy,
            format_text("error rate %.0f%% above %.0f%%", rate * 100,
                        settings_.unhealthy_error_rate * 100),
            rate, true};

  const bool slow = seen.max_batch_latency > settings_.processing_timeout;
  if (rate > settings_.degraded_error_rate || slow) {
    std::string why =
        slow ? format_text("batch latency %.1fs above %.1fs", to_seconds(seen.max_batch_latency),
                           to_seconds(settings_.processing_timeout))
             : format_text("error rate %.0f%% above %.0f%%", rate * 100,
                           settings_.degraded_error_rate * 100);
    return {health_state::degraded, std::move(why), rate, true};
  }
  // Between the recovery and the degraded thresholds a Degraded executor stays
  // Degraded, so a rate hovering at the threshold does not flap.
  if (previous == health_state::degraded && rate > settings_.recovery_error_rate)
    return {health_state::degraded,
            format_text("error rate %.0f%% not yet at or below %.0f%%", rate * 100,
                        settings_.recovery_error_rate * 100),
            rate, true};
  return {health_state::healthy,
          previous == health_state::degraded ? "recovered after a clean window" : "ok", rate, true};
}

duration until_next_beat(time_point now, duration interval) noexcept {
  if (interval <= duration::zero())
    return interval;
  auto into = now.time_since_epoch() % interval;
  if (into < duration::zero())
    into += interval;
  return interval - into;
}

} // namespace tasker::coordinator
