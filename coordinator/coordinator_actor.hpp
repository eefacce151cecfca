#pragma once
/// The coordinator actor: spawns one pool per executor type, receives every
/// executor's heartbeat (its state and counters), and runs two timers.
///
/// Health tick (every `health_interval`): an executor whose heartbeat is stale
/// is marked Unhealthy and its pool told to replace it; the broker's status is
/// polled and its saturation fed to the backpressure policy, whose factor is
/// broadcast to every pool (which forwards it to every executor).
///
/// Scaling tick (every `scaling_interval`): the scaling policy runs per pool
/// on utilization (busy / wall time over the window) and queue depth (from
/// `queue_depths` messages); scale-ups go through the budget allocator, so a
/// scale-up past the connection budget is refused and counted, heavier pools
/// first.
///
/// Protocol: heartbeat, executor_joined/left, pool_failed and
/// queue_depths in; `status_atom` → coordinator_snapshot; `shutdown_atom` →
/// coordinator_snapshot (final) once shutdown is complete.
///
/// Operator control (from the inspector): `pool_scale` → pool_snapshot sets a
/// pool's size within [min, max] and the connection budget (anything else is
/// refused with `errc::out_of_range`) and marks the pool manual: the scaling
/// tick leaves a manual pool alone until `pool_scale{automatic=true}`.
/// `pool_pause` → pool_snapshot pauses or resumes a pool's batch loops.
/// Unknown pools get `errc::unknown_pool`; during shutdown, `errc::shutting_down`.
///
/// Shutdown contract: on `shutdown_atom` the coordinator stops both timers,
/// stops every pool gracefully (executors finish their batch and return their
/// lease; a pool not done within `shutdown_timeout` is killed), then closes the
/// broker, replies with its final snapshot and quits.

#include "coordinator/backpressure_policy.hpp"
#include "coordinator/budget_allocator.hpp"
#include "coordinator/health_policy.hpp"
#include "coordinator/pool.hpp"
#include "coordinator/scaling_policy.hpp"
#include "coordinator/utilization_window.hpp"
#include "messaging/messages.hpp"

#include <caf/stateful_actor.hpp>

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace tasker::coordinator {

/// One pool the coordinator runs.
struct pool_spec {
  /// Sizing and supervision of the pool.
  pool_options options;
  /// Spawns the pool's executors.
  executor_factory factory;
  /// The queue whose depth feeds this pool's scaling (empty: none).
  std::string queue;
};

/// The coordinator's timers, policies and budget.
struct coordinator_options {
  /// The pools to run, one per executor type.
  std::vector<pool_spec> pools;
  /// Period of the health tick (stale heartbeats, broker saturation).
  caf::timespan health_interval{std::chrono::seconds{10}};
  /// Period of the scaling tick.
  caf::timespan scaling_interval{std::chrono::seconds{30}};
  /// The utilization window.
  caf::timespan utilization_window{std::chrono::seconds{60}};
  /// Whether the scaling tick acts at all.
  bool auto_scaling = true;
  /// The host's CPU busy fraction since the previous call, read once per
  /// scaling tick; empty or returning nothing: scale-ups are not checked
  /// against the CPU (scaling_settings::scale_up_cpu_ceiling).
  std::function<std::optional<double>()> host_cpu;
  /// Scaling thresholds, cooldown and hysteresis.
  scaling_settings scaling;
  /// Heartbeat staleness thresholds.
  health_settings health;
  /// Backpressure thresholds.
  backpressure_settings backpressure;
  /// Executors allowed across all pools (one connection each); 0 means the
  /// sum of every pool's maximum.
  std::size_t executor_budget = 0;
  /// Bound on the whole orderly shutdown.
  caf::timespan shutdown_timeout{std::chrono::seconds{30}};
  /// Events kept in the snapshot's log.
  std::size_t event_log_capacity = 128;
};

/// One executor as the coordinator sees it.
struct executor_record {
  std::string pool;
  caf::actor_clock::time_point started_at{};
  std::optional<caf::actor_clock::time_point> last_heartbeat;
  health_state state = health_state::starting;
  std::string reason;
  messaging::breaker_state breaker = messaging::breaker_state::closed;
  std::uint64_t items = 0;
  std::uint64_t errors = 0;
  std::uint64_t batches = 0;
  caf::timespan mean_batch_latency{0};
  double backpressure = 1.0;
  bool paused = false;
  std::uint64_t mailbox = 0;
  bool replacement_requested = false;
};

/// One pool as the coordinator sees it.
struct pool_record {
  pool_spec spec;
  caf::actor handle;
  utilization_window window;
  std::size_t target = 0;
  bool failed = false;
  std::int64_t queue_depth = 0;
  std::uint64_t items = 0;
  std::uint64_t errors = 0;
  std::uint64_t items_at_last_tick = 0;
  std::uint64_t scale_ups = 0;
  std::uint64_t scale_downs = 0;
  std::uint64_t refused_scale_ups = 0;
  /// The last scaling tick held a scale-up for a saturated CPU (the event is
  /// logged when this turns true, not at every tick).
  bool cpu_held = false;
  /// Sized by an operator: the scaling tick skips it.
  bool manual = false;
  /// Paused by an operator: its executors take no batches.
  bool paused = false;
};

/// The coordinator's state; see the file comment for the protocol.
struct coordinator_state {
  coordinator_options options;
  caf::actor broker;
  caf::actor listener;
  std::map<std::string, pool_record> pools;
  // By actor id; every executor's heartbeat looks its record up each second.
  std::unordered_map<std::uint64_t, executor_record> executors;
  scaling_policy scaling{scaling_settings{}};
  health_policy health;
  backpressure_policy backpressure;
  budget_allocator budget{0};
  messaging::broker_status broker_status;
  std::deque<messaging::runtime_event> events;
  caf::actor_clock::time_point started_at{};
  caf::actor_clock::time_point last_scaling_tick{};
  bool ticking = true;
  bool shutting_down = false;
  std::size_t pools_stopping = 0;
  caf::response_promise shutdown_promise;

  /// Name under which CAF reports this actor.
  static inline const char* name = "tasker.coordinator";
};

/// The coordinator's behavior; spawns its pools at once. `listener` may be null.
caf::behavior coordinator_actor(caf::stateful_actor<coordinator_state>* self,
                                coordinator_options options, caf::actor broker,
                                caf::actor listener);

} // namespace tasker::coordinator
