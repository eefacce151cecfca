#pragma once
/// The status and snapshot structs of the runtime: what actors answer to
/// `status_atom` and what the inspector and health endpoints read. Included by
/// `messaging/messages.hpp`, which registers them with CAF.

#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tasker::messaging {

// -- states -------------------------------------------------------------------

/// An executor's lifecycle state, as the health policy evaluates it.
enum class executor_state : std::uint8_t { starting, healthy, degraded, unhealthy, stopping };

/// Lower-case name of `x`.
inline std::string to_string(executor_state x) {
  switch (x) {
    case executor_state::starting: return "starting";
    case executor_state::healthy: return "healthy";
    case executor_state::degraded: return "degraded";
    case executor_state::unhealthy: return "unhealthy";
    case executor_state::stopping: return "stopping";
  }
  return "unknown";
}

/// A circuit breaker's state.
enum class breaker_state : std::uint8_t { closed, open, half_open };

/// Lower-case name of `x`.
inline std::string to_string(breaker_state x) {
  switch (x) {
    case breaker_state::closed: return "closed";
    case breaker_state::open: return "open";
    case breaker_state::half_open: return "half_open";
  }
  return "unknown";
}

// -- broker -------------------------------------------------------------------

/// One lease currently out.
struct lease_info {
  std::uint64_t id = 0;
  std::uint64_t holder = 0; ///< the holder's actor id
  std::string holder_name;
  caf::timespan held_for{0};
};

/// The broker's answer to `status_atom`.
struct broker_status {
  std::uint32_t size = 0;
  std::uint32_t leased = 0;
  std::uint32_t waiting = 0;
  double saturation = 0.0; ///< leased / size
  std::uint64_t grants = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t reclaimed = 0; ///< leases taken back from holders that died
  std::uint32_t peak_leased = 0; ///< the most connections leased out at once so far
  bool closing = false;
  std::vector<lease_info> leases;
};

// -- status snapshots ---------------------------------------------------------

/// An executor's answer to `status_atom`.
struct executor_status {
  std::uint64_t id = 0;
  std::string pool;
  executor_state state = executor_state::starting;
  breaker_state breaker = breaker_state::closed;
  std::uint64_t items = 0;
  std::uint64_t errors = 0;
  std::uint64_t batches = 0;
  std::uint32_t batch_size = 0;     ///< after backpressure
  caf::timespan poll_interval{0};   ///< after backpressure
  double backpressure = 1.0;
  bool paused = false;              ///< takes no batches (operator pause)
};

/// One executor as its pool sees it.
struct pool_member {
  std::uint64_t id = 0;
  bool draining = false;
  caf::timespan age{0};
};

/// A pool's answer to `status_atom`.
struct pool_status {
  std::string name;
  bool failed = false;
  std::uint32_t min = 0;
  std::uint32_t max = 0;
  double backpressure = 1.0;
  std::uint64_t spawned = 0;
  std::uint64_t restarts = 0;
  std::uint64_t recycled = 0;
  std::uint64_t replaced = 0;
  bool paused = false; ///< its executors take no batches (operator pause)
  std::vector<pool_member> members;
};

/// One executor in the coordinator's snapshot.
struct executor_snapshot {
  std::uint64_t id = 0;
  std::string pool;
  executor_state state = executor_state::starting;
  breaker_state breaker = breaker_state::closed;
  caf::timespan since_heartbeat{0};
  std::uint64_t items = 0;
  std::uint64_t errors = 0;
  std::uint64_t batches = 0;
  double utilization = 0.0;
  caf::timespan mean_batch_latency{0};
  double backpressure = 1.0;  ///< the factor the executor last reported obeying
  bool paused = false;        ///< takes no batches (operator pause)
  std::uint64_t mailbox = 0;  ///< messages waiting, as the executor itself counted them
};

/// One pool in the coordinator's snapshot.
struct pool_snapshot {
  std::string name;
  std::uint32_t executors = 0;
  std::uint32_t min = 0;
  std::uint32_t max = 0;
  bool failed = false;
  double utilization = 0.0;
  std::int64_t queue_depth = 0;
  std::uint64_t items = 0;
  std::uint64_t errors = 0;
  std::uint64_t scale_ups = 0;
  std::uint64_t scale_downs = 0;
  std::uint64_t refused_scale_ups = 0;
  std::uint32_t target = 0; ///< the size the coordinator is steering towards
  bool paused = false;      ///< its executors take no batches (operator pause)
  bool manual = false;      ///< sized by an operator; auto-scaling leaves it alone
};

/// A scaling, backpressure, health or lifecycle event in the bounded log.
struct runtime_event {
  caf::timespan at{0}; ///< time since the coordinator started
  std::string kind;    ///< e.g. "scale_up", "backpressure", "replace"
  std::string pool;    ///< empty for system-wide events
  std::string detail;
};

/// The coordinator's answer to `status_atom`: what health endpoints read.
struct coordinator_snapshot {
  std::vector<pool_snapshot> pools;
  std::vector<executor_snapshot> executors;
  double backpressure = 1.0;
  broker_status broker;
  std::vector<runtime_event> events;
  std::uint64_t items = 0;
  std::uint64_t errors = 0;
  double utilization = 0.0;
  bool shutting_down = false;
  caf::timespan uptime{0};              ///< time since the coordinator started
  std::uint64_t backpressure_events = 0; ///< times backpressure engaged
  std::uint32_t executor_limit = 0;      ///< executors the connection budget allows in total
  std::uint32_t executors_allocated = 0; ///< executors the budget has handed out
  std::uint64_t constraint_violations = 0; ///< scale-ups the budget refused in whole or part
};

/// The inspector's answer to `status_atom`: the whole live tree of a node.
struct node_inspection {
  std::uint64_t inspector = 0;   ///< the inspector's actor id
  std::uint64_t coordinator = 0; ///< the coordinator's actor id
  std::uint64_t broker = 0;      ///< the broker's actor id (0: none)
  coordinator_snapshot snapshot; ///< pools, executors, events
  /// The broker asked directly; `snapshot.broker` is as of the last health tick.
  broker_status broker_now;
  bool broker_answered = false; ///< false when the broker did not answer in time
};

// -- inspect ------------------------------------------------------------------

#define TASKER_INSPECT(type, ...)                                                    \
  template <class Inspector>                                                         \
  typename Inspector::result_type inspect(Inspector& f, type& x) {                   \
    return f(caf::meta::type_name("tasker." #type), __VA_ARGS__);                    \
  }

TASKER_INSPECT(lease_info, x.id, x.holder, x.holder_name, x.held_for)
TASKER_INSPECT(broker_status, x.size, x.leased, x.waiting, x.saturation, x.grants, x.timeouts,
               x.reconnects, x.reclaimed, x.peak_leased, x.closing, x.leases)
TASKER_INSPECT(executor_status, x.id, x.pool, x.state, x.breaker, x.items, x.errors, x.batches,
               x.batch_size, x.poll_interval, x.backpressure, x.paused)
TASKER_INSPECT(pool_member, x.id, x.draining, x.age)
TASKER_INSPECT(pool_status, x.name, x.failed, x.min, x.max, x.backpressure, x.spawned,
               x.restarts, x.recycled, x.replaced, x.paused, x.members)
TASKER_INSPECT(executor_snapshot, x.id, x.pool, x.state, x.breaker, x.since_heartbeat, x.items,
               x.errors, x.batches, x.utilization, x.mean_batch_latency,
               x.backpressure, x.paused, x.mailbox)
TASKER_INSPECT(pool_snapshot, x.name, x.executors, x.min, x.max, x.failed, x.utilization,
               x.queue_depth, x.items, x.errors, x.scale_ups, x.scale_downs,
               x.refused_scale_ups, x.target, x.paused, x.manual)
TASKER_INSPECT(runtime_event, x.at, x.kind, x.pool, x.detail)
TASKER_INSPECT(coordinator_snapshot, x.pools, x.executors, x.backpressure, x.broker, x.events,
               x.items, x.errors, x.utilization, x.shutting_down, x.uptime,
               x.backpressure_events, x.executor_limit, x.executors_allocated,
               x.constraint_violations)
TASKER_INSPECT(node_inspection, x.inspector, x.coordinator, x.broker, x.snapshot,
               x.broker_now, x.broker_answered)

#undef TASKER_INSPECT

} // namespace tasker::messaging
