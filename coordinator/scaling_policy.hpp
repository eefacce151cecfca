#pragma once
/// Scaling decisions for executor pools: the utilization rule, queue backlog,
/// hysteresis and a per-pool cooldown.

#include "coordinator/time.hpp"

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tasker::coordinator {

/// What a pool should do after one scaling evaluation.
enum class scaling_action { none, up, down };

/// Lower-case name of `action` for logs and metrics labels.
std::string_view to_string(scaling_action action) noexcept;

/// The observed load of one pool at one scaling tick.
struct pool_load {
  /// Executors currently in the pool.
  std::size_t current = 0;
  /// The pool's configured floor.
  std::size_t min = 0;
  /// The pool's configured ceiling.
  std::size_t max = 0;
  /// Busy time / wall time over the scaling window, 0..1.
  double utilization = 0.0;
  /// Messages or rows waiting for this pool.
  std::size_t queue_depth = 0;
  /// Items the whole pool completed per second over the recent window.
  double throughput_per_second = 0.0;
  /// Busy fraction of the host's CPUs (all processes, all cores) since the
  /// previous tick, 0..1; nothing when it cannot be measured.
  std::optional<double> host_cpu;
};

/// The outcome of one evaluation: the action, how many executors, and why.
struct scaling_decision {
  /// Direction of the change, or none.
  scaling_action action = scaling_action::none;
  /// Executors to add (up) or remove (down); 0 when action is none.
  std::size_t count = 0;
  /// Human-readable explanation, also given when nothing happens.
  std::string reason;
  /// The pool is under high load but was not grown because the host's CPUs
  /// are saturated (see scaling_settings::scale_up_cpu_ceiling).
  bool held_by_cpu = false;
};

/// Tuning shared by every pool the policy evaluates.
struct scaling_settings {
  /// Utilization the pools aim for.
  double target_utilization = 0.75;
  /// Time between scaling ticks; sets how long a backlog may take to drain.
  duration scaling_interval = std::chrono::seconds{30};
  /// Minimum time between two actions on the same pool.
  duration cooldown = std::chrono::seconds{60};
  /// Consecutive evaluations a condition must hold before it is acted on.
  std::size_t required_consecutive = 2;
  /// A backlog the pool cannot drain within this many intervals is high load.
  std::size_t backlog_intervals = 2;
  /// Host CPU busy fraction at or above which no pool is grown: when the
  /// cores are saturated (often by the database on the same host) another
  /// executor only adds polling and lock waits that compete for them, and
  /// throughput falls. 1.0 turns the check off.
  double scale_up_cpu_ceiling = 0.9;
};

/// The seed's stateless utilization rule: no queue, cooldown or hysteresis.
///
/// Scale up when utilization > target × 1.2 (new count = ceil(count × min(
/// utilization / target, 2)), at least one more, clamped to max); scale down
/// when utilization < target × 0.5 (remove max((count − min) / 2, 1)).
scaling_decision utilization_rule(const pool_load& load, double target_utilization);

/// Stateful scaling policy tracking cooldown and hysteresis per pool.
///
/// High load (utilization above target × 1.2, or a backlog the pool cannot
/// drain in `backlog_intervals`) grows a pool only while the host CPU is below
/// `scale_up_cpu_ceiling`; otherwise the decision is none with `held_by_cpu`.
///
/// A returned up/down decision is taken as applied: it starts the pool's
/// cooldown and resets its hysteresis count. A pool outside [min, max] (for
/// example after a configuration reload) is corrected at once, because bounds
/// are configuration, not load.
class scaling_policy {
public:
  /// Creates a policy; a zero `required_consecutive` is treated as 1.
  explicit scaling_policy(scaling_settings settings);

  /// Evaluates `load` for `pool` at `now`, updating that pool's history.
  scaling_decision evaluate(std::string_view pool, const pool_load& load, time_point now);

  /// Forgets a pool's cooldown and hysteresis, e.g. after it was rebuilt.
  void reset(std::string_view pool);

  /// The time of the pool's last action, or the epoch when it never acted.
  time_point last_action(std::string_view pool) const;

  /// The settings the policy was created with.
  const scaling_settings& settings() const noexcept { return settings_; }

private:
  // -- per-pool memory --------------------------------------------------------

  enum class pressure { normal, high, low };

  struct pool_history {
    pressure streak_kind = pressure::normal;
    std::size_t streak = 0;
    bool acted = false;
    time_point last_action{};
    scaling_action last_direction = scaling_action::none;
  };

  struct classification {
    pressure kind = pressure::normal;
    std::string why;
    double scale_factor = 1.0;
    bool held_by_cpu = false;
  };

  classification classify(const pool_load& load) const;

  scaling_settings settings_;
  std::map<std::string, pool_history, std::less<>> pools_;
};

} // namespace tasker::coordinator
