#include "coordinator/scaling_policy.hpp"

#include "coordinator/detail/text.hpp"

#include <algorithm>
#include <cmath>

namespace tasker::coordinator {

namespace {

using detail::format_text;

// The seed caps one step at doubling the pool so a single noisy window cannot
// multiply it.
constexpr double max_scale_factor = 2.0;
constexpr double scale_up_band = 1.2;
constexpr double scale_down_band = 0.5;

std::size_t scale_up_count(const pool_load& load, double factor) {
  const double bounded = std::min(factor, max_scale_factor);
  const auto wanted =
      static_cast<std::size_t>(std::ceil(static_cast<double>(load.current) * bounded));
  // An empty pool (min 0) multiplies to zero; it still needs one executor.
  const std::size_t add =
      std::max<std::size_t>(wanted > load.current ? wanted - load.current : 0, 1);
  return std::min(add, load.max - load.current);
}

std::size_t scale_down_count(const pool_load& load) {
  const std::size_t spare = load.current - load.min;
  return std::min(std::max<std::size_t>(spare / 2, 1), spare);
}

double clamp_unit(double value) {
  return std::clamp(value, 0.0, 1.0);
}

} // namespace

std::string_view to_string(scaling_action action) noexcept {
  switch (action) {
  case scaling_action::none:
    return "none";
  case scaling_action::up:
    return "up";
  case scaling_action::down:
    return "down";
  }
  return "unknown";
}

scaling_decision utilization_rule(const pool_load& load, double target_utilization) {
  const double util = clamp_unit(load.utilization);
  if (target_utilization <= 0.0)
    return {scaling_action::none, 0, "target utilization is not positive"};
  if (util > target_utilization * scale_up_band && load.current < load.max)
    return {scaling_action::up, scale_up_count(load, util / target_utilization),
            format_text("utilization %.2f above %.2f", util, target_utilization * scale_up_band)};
  if (util < target_utilization * scale_down_band && load.current > load.min)
    return {scaling_action::down, scale_down_count(load),
            format_text("utilization %.2f below %.2f", util, target_utilization * scale_down_band)};
  return {scaling_action::none, 0, format_text("utilization %.2f within band", util)};
}

scaling_policy::scaling_policy(scaling_settings settings) : settings_(settings) {
  settings_.required_consecutive = std::max<std::size_t>(settings_.required_consecutive, 1);
}

scaling_policy::classification scaling_policy::classify(const pool_load& load) const {
  const double target = settings_.target_utilization;
  const double util = clamp_unit(load.utilization);
  const double interval_s = to_seconds(settings_.scaling_interval);
  const double throughput = std::max(load.throughput_per_second, 0.0);
  const double depth = static_cast<double>(load.queue_depth);
  const double drainable =
      throughput * interval_s * static_cast<double>(settings_.backlog_intervals);
  const bool backlog = load.queue_depth > 0 && depth > drainable;
  const bool hot = target > 0.0 && util > target * scale_up_band;

  const bool wants_more = (hot || backlog) && load.current < load.max;
  const bool cpu_saturated = load.host_cpu && settings_.scale_up_cpu_ceiling < 1.0
                             && *load.host_cpu >= settings_.scale_up_cpu_ceiling;

  if (wants_more && cpu_saturated) {
    const auto pressure_text = hot ? format_text("utilization %.2f", util)
                                   : format_text("backlog of %zu", load.queue_depth);
    return {pressure::normal,
            format_text("%s, but host CPU %.0f%% is at or above the %.0f%% ceiling: another "
                        "executor would compete for saturated cores",
                        pressure_text.c_str(), *load.host_cpu * 100.0,
                        settings_.scale_up_cpu_ceiling * 100.0),
            1.0, true};
  }

  if (wants_more) {
    double factor = target > 0.0 ? util / target : max_scale_factor;
    // A backlog with nothing draining it is as urgent as load gets.
    if (backlog)
      factor = std::max(factor, drainable > 0.0 ? depth / drainable : max_scale_factor);
    std::string why =
        hot ? format_text("utilization %.2f above %.2f", util, target * scale_up_band)
            : format_text("backlog of %zu cannot drain within %zu intervals at %.1f/s",
                          load.queue_depth, settings_.backlog_intervals, throughput);
    return {pressure::high, std::move(why), factor};
  }

  // Low utilization alone is not enough: work still waiting beyond what one
  // interval drains means the pool is about to be needed.
  const bool queue_clear = load.queue_depth == 0 || depth <= throughput * interval_s;
  if (util < target * scale_down_band && queue_clear && load.current > load.min)
    return {pressure::low,
            format_text("utilization %.2f below %.2f with %zu queued", util,
                        target * scale_down_band, load.queue_depth),
            1.0};

  if (load.current >= load.max && (hot || backlog))
    return {pressure::normal, format_text("high load but already at max %zu", load.max), 1.0};
  return {pressure::normal,
          format_text("utilization %.2f with %zu queued needs no change", util, load.queue_depth),
          1.0};
}

scaling_decision scaling_policy::evaluate(std::string_view pool, const pool_load& load,
                                          time_point now) {
  auto it = pools_.find(pool);
  if (it == pools_.end())
    it = pools_.emplace(std::string{pool}, pool_history{}).first;
  auto& history = it->second;

  auto act = [&](scaling_action action, std::size_t count, std::string reason) {
    history.acted = true;
    history.last_action = now;
    history.last_direction = action;
    history.streak = 0;
    history.streak_kind = pressure::normal;
    return scaling_decision{action, count, std::move(reason)};
  };

  if (load.min <= load.max) {
    if (load.current > load.max)
      return act(scaling_action::down, load.current - load.max,
                 format_text("%zu executors exceed max %zu", load.current, load.max));
    if (load.current < load.min)
      return act(scaling_action::up, load.min - load.current,
                 format_text("%zu executors below min %zu", load.current, load.min));
  }

  auto seen = classify(load);
  if (seen.kind == history.streak_kind) {
    ++history.streak;
  } else {
    history.streak_kind = seen.kind;
    history.streak = 1;
  }
  if (seen.kind == pressure::normal)
    return {scaling_action::none, 0, std::move(seen.why), seen.held_by_cpu};

  if (history.acted && now - history.last_action < settings_.cooldown) {
    const double remaining = to_seconds(settings_.cooldown - (now - history.last_action));
    return {scaling_action::none, 0,
            format_text("cooldown %.1fs remaining after scale %s; %s", remaining,
                        to_string(history.last_direction).data(), seen.why.c_str())};
  }
  if (history.streak < settings_.required_consecutive)
    return {scaling_action::none, 0,
            format_text("%s (held %zu of %zu evaluations)", seen.why.c_str(), history.streak,
                        settings_.required_consecutive)};

  if (seen.kind == pressure::high)
    return act(scaling_action::up, scale_up_count(load, seen.scale_factor), std::move(seen.why));
  return act(scaling_action::down, scale_down_count(load), std::move(seen.why));
}

void scaling_policy::reset(std::string_view pool) {
  if (auto it = pools_.find(pool); it != pools_.end())
    pools_.erase(it);
}

time_point scaling_policy::last_action(std::string_view pool) const {
  auto it = pools_.find(pool);
  return it == pools_.end() ? time_point{} : it->second.last_action;
}

} // namespace tasker::coordinator
