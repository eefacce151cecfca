#pragma once
/// Executor health: a pure state machine evaluated from observed facts.

#include "coordinator/time.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tasker::coordinator {

/// Where an executor is in its life, as the health monitor sees it.
///
/// Starting → Healthy ⇄ Degraded → Unhealthy; any state → Stopping.
/// Unhealthy and Stopping are final for one executor: an executor that went
/// silent may be stuck inside a transaction, so it is replaced rather than
/// trusted again.
enum class health_state { starting, healthy, degraded, unhealthy, stopping };

/// Lower-case name of `state` for logs, metrics and the health endpoint.
std::string_view to_string(health_state state) noexcept;

/// Thresholds for the health evaluation.
struct health_settings {
  /// How often an executor is expected to heartbeat.
  duration heartbeat_interval = std::chrono::seconds{5};
  /// A heartbeat older than this many intervals marks the executor Unhealthy.
  double stale_after_intervals = 3.0;
  /// A batch slower than this marks the executor Degraded.
  duration processing_timeout = std::chrono::seconds{30};
  /// Error rate above which the executor is Degraded.
  double degraded_error_rate = 0.10;
  /// Error rate above which the executor is Unhealthy.
  double unhealthy_error_rate = 0.50;
  /// A Degraded executor recovers once its error rate is at or below this.
  double recovery_error_rate = 0.05;
  /// Fewer items than this in a window say nothing about the error rate.
  std::uint64_t minimum_items = 3;

  /// Age beyond which a heartbeat (or a silent start) is stale.
  duration stale_threshold() const;
};

/// What the health monitor observed about one executor over the last window.
struct health_observation {
  /// The evaluation time.
  time_point now{};
  /// When the executor was spawned.
  time_point started_at{};
  /// The most recent heartbeat, if any arrived yet.
  std::optional<time_point> last_heartbeat;
  /// Items attempted in the window (successes and failures).
  std::uint64_t items = 0;
  /// Items among them that failed.
  std::uint64_t errors = 0;
  /// The slowest batch in the window.
  duration max_batch_latency{};
  /// Set once the executor was told to stop.
  bool stopping = false;
  /// Whether that stop lets in-flight work finish.
  bool graceful = true;
};

/// The evaluated state, the reason, and the error rate it was based on.
struct health_verdict {
  /// The new state.
  health_state state = health_state::starting;
  /// Why the executor is in that state.
  std::string reason;
  /// errors / items for the window (0 when too few items).
  double error_rate = 0.0;
  /// For Stopping: whether in-flight work is drained.
  bool graceful = true;
};

/// Evaluates executor health; holds only thresholds, so one instance serves all.
class health_policy {
public:
  /// Creates a policy with the given thresholds.
  explicit health_policy(health_settings settings = {});

  /// The next state of an executor currently in `previous`, given `seen`.
  health_verdict evaluate(health_state previous, const health_observation& seen) const;

  /// The thresholds in use.
  const health_settings& settings() const noexcept { return settings_; }

private:
  double error_rate(const health_observation& seen) const;

  health_settings settings_;
};

/// How long until the next heartbeat: to the next multiple of `interval` on
/// the clock (a full interval when `now` is on one). Every executor of a node
/// beats at the same instants, so the coordinator takes their heartbeats in
/// one burst per interval, its thread woken once for all of them, instead of
/// once per heartbeat as their phases spread. A non-positive interval gives
/// itself back.
duration until_next_beat(time_point now, duration interval) noexcept;

} // namespace tasker::coordinator
