#pragma once
/// Every CAF message type and atom of the runtime, declared once with its
/// `inspect`, so that each can cross CAF's middleman (register them with
/// `add_message_types`). The one exception is `connection_lease`: it carries a
/// live database connection and is local-only by construction.

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

#include <pqxx/connection>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tasker::messaging {

// -- atoms --------------------------------------------------------------------

/// Asks any runtime actor for its status struct.
using status_atom = caf::atom_constant<caf::atom("status")>;
/// Asks an executor to run its next batch (its own loop timer).
using batch_atom = caf::atom_constant<caf::atom("batch")>;
/// An executor's heartbeat timer.
using beat_atom = caf::atom_constant<caf::atom("beat")>;
/// The coordinator's health-monitor timer.
using health_tick_atom = caf::atom_constant<caf::atom("hlth_tick")>;
/// The coordinator's scaling timer.
using scale_tick_atom = caf::atom_constant<caf::atom("scale_tick")>;
/// The broker's per-waiter timeout.
using lease_timeout_atom = caf::atom_constant<caf::atom("lease_to")>;
/// A pool's deadline for a draining executor.
using stop_timeout_atom = caf::atom_constant<caf::atom("stop_to")>;
/// The notification listener's wait loop.
using listen_atom = caf::atom_constant<caf::atom("listen")>;
/// Asks the coordinator for an orderly shutdown; the reply comes when done.
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
/// Asks the broker to close its connections (the last shutdown step).
using close_atom = caf::atom_constant<caf::atom("close")>;

// -- enums --------------------------------------------------------------------

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

/// Runtime errors carried in `caf::error` (category "tasker").
enum class errc : std::uint8_t {
  lease_timeout = 1, ///< a lease waiter waited longer than its timeout
  broker_closed,     ///< the broker is closing and grants nothing more
  connect_failed,    ///< a database connection could not be opened
  unknown_lease,     ///< a returned lease was not granted by this broker
  pool_failed,       ///< a pool exceeded its restart intensity
  shutdown_timeout,  ///< an orderly shutdown did not finish in time
};

/// Lower-case name of `x`.
inline std::string to_string(errc x) {
  switch (x) {
    case errc::lease_timeout: return "lease_timeout";
    case errc::broker_closed: return "broker_closed";
    case errc::connect_failed: return "connect_failed";
    case errc::unknown_lease: return "unknown_lease";
    case errc::pool_failed: return "pool_failed";
    case errc::shutdown_timeout: return "shutdown_timeout";
  }
  return "unknown";
}

/// Converts `x` into a `caf::error` of category "tasker".
inline caf::error make_error(errc x) {
  return caf::error{static_cast<std::uint8_t>(x), caf::atom("tasker")};
}

/// Converts `x` into a `caf::error` that also carries a sentence for people.
inline caf::error make_error(errc x, std::string context) {
  return caf::error{static_cast<std::uint8_t>(x), caf::atom("tasker"),
                    caf::make_message(std::move(context))};
}

/// Why an executor ended (category "exec_exit"); a pool decides from it
/// whether the exit counts against its restart intensity.
enum class executor_exit : std::uint8_t {
  drained = 1,  ///< stopped gracefully after its in-flight batch
  recycled,     ///< replaced after its batch or lifetime budget
  fatal,        ///< a fatal error that a restart would repeat
  stop_timeout, ///< killed because draining took longer than allowed
  unhealthy,    ///< killed after its heartbeat went stale
};

/// Lower-case name of `x`.
inline std::string to_string(executor_exit x) {
  switch (x) {
    case executor_exit::drained: return "drained";
    case executor_exit::recycled: return "recycled";
    case executor_exit::fatal: return "fatal";
    case executor_exit::stop_timeout: return "stop_timeout";
    case executor_exit::unhealthy: return "unhealthy";
  }
  return "unknown";
}

/// Converts `x` into a `caf::error` of category "exec_exit".
inline caf::error make_error(executor_exit x) {
  return caf::error{static_cast<std::uint8_t>(x), caf::atom("exec_exit")};
}

// -- executor → coordinator ---------------------------------------------------

/// Proof of life: sent by every executor each heartbeat interval.
struct heartbeat {
  std::string pool;       ///< the executor's pool (its executor type)
  std::uint64_t executor; ///< the executor's actor id
  executor_state state = executor_state::starting;
  std::string reason;     ///< why the state is not healthy (empty otherwise)
};

/// An executor's counters, sent with every heartbeat.
struct metrics_report {
  std::string pool;                   ///< the executor's pool
  std::uint64_t executor = 0;         ///< the executor's actor id
  std::uint64_t items = 0;            ///< items processed since spawn
  std::uint64_t errors = 0;           ///< failed batches since spawn
  std::uint64_t batches = 0;          ///< batches run since spawn
  caf::timespan busy{0};              ///< time spent in batches since the last report
  caf::timespan wall{0};              ///< wall time since the last report
  caf::timespan last_batch_latency{0}; ///< duration of the most recent batch
  caf::timespan mean_batch_latency{0}; ///< mean batch duration since the last report
  breaker_state breaker = breaker_state::closed;
  executor_state state = executor_state::starting;
};

// -- coordinator ↔ pool ↔ executor --------------------------------------------

/// Asks a pool to add `count` executors (clamped to its maximum).
struct scale_up {
  std::uint32_t count = 1;
};

/// Asks a pool to drain `count` executors (never below its minimum).
struct scale_down {
  std::uint32_t count = 1;
};

/// The backpressure factor in (0, 1]: 1 is normal, lower means poll less
/// often and claim smaller batches. Coordinator → pools → executors.
struct backpressure {
  double factor = 1.0;
};

/// Stops an executor, a pool or the listener. Graceful: finish the in-flight
/// batch, return the lease, then quit.
struct stop_request {
  bool graceful = true;
};

/// New work may be waiting on `channel` (a queue name): run a batch now.
struct wake {
  std::string channel;
};

/// Subscribes the sender to `wake` messages for the given queue names.
struct subscribe_wake {
  std::vector<std::string> channels;
};

/// Queue depths polled by the node, one entry per queue.
struct queue_depth {
  std::string queue;
  std::int64_t depth = 0;
};

/// The latest depth of every polled queue; feeds the scaling tick.
struct queue_depths {
  std::vector<queue_depth> queues;
};

/// Tells a pool to replace one executor (e.g. its heartbeat went stale).
struct replace_executor {
  std::uint64_t executor = 0;
  std::string reason;
};

/// An executor asks its pool for a successor; it keeps working until stopped.
struct recycle_request {
  std::uint64_t executor = 0;
  std::string reason;
};

/// A pool tells the coordinator it spawned an executor.
struct executor_joined {
  std::string pool;
  std::uint64_t executor = 0;
};

/// A pool tells the coordinator an executor is gone (or retiring).
struct executor_left {
  std::string pool;
  std::uint64_t executor = 0;
  std::string reason;
};

/// A pool gave up: more than the allowed restarts within the window.
struct pool_failed {
  std::string pool;
  std::uint32_t restarts = 0;
  caf::timespan window{0};
  std::string reason;
};

// -- broker -------------------------------------------------------------------

/// Asks the broker for a connection. Waiters are served by weight, then by
/// arrival; a waiter still waiting after `timeout` gets `errc::lease_timeout`.
struct lease_request {
  double weight = 1.0;
  caf::timespan timeout{std::chrono::seconds{5}};
  std::string holder; ///< a name for status output, e.g. the pool
};

/// A granted connection. Local-only: it shares the broker's connection.
struct connection_lease {
  std::uint64_t id = 0;
  std::shared_ptr<pqxx::connection> connection;
};

/// Gives a lease back; `broken` asks the broker to reconnect before reuse.
struct lease_return {
  std::uint64_t id = 0;
  bool broken = false;
};

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
};

// -- inspect ------------------------------------------------------------------

#define TASKER_INSPECT(type, ...)                                                    \
  template <class Inspector>                                                         \
  typename Inspector::result_type inspect(Inspector& f, type& x) {                   \
    return f(caf::meta::type_name("tasker." #type), __VA_ARGS__);                    \
  }

TASKER_INSPECT(heartbeat, x.pool, x.executor, x.state, x.reason)
TASKER_INSPECT(metrics_report, x.pool, x.executor, x.items, x.errors, x.batches, x.busy, x.wall,
               x.last_batch_latency, x.mean_batch_latency, x.breaker, x.state)
TASKER_INSPECT(scale_up, x.count)
TASKER_INSPECT(scale_down, x.count)
TASKER_INSPECT(backpressure, x.factor)
TASKER_INSPECT(stop_request, x.graceful)
TASKER_INSPECT(wake, x.channel)
TASKER_INSPECT(subscribe_wake, x.channels)
TASKER_INSPECT(queue_depth, x.queue, x.depth)
TASKER_INSPECT(queue_depths, x.queues)
TASKER_INSPECT(replace_executor, x.executor, x.reason)
TASKER_INSPECT(recycle_request, x.executor, x.reason)
TASKER_INSPECT(executor_joined, x.pool, x.executor)
TASKER_INSPECT(executor_left, x.pool, x.executor, x.reason)
TASKER_INSPECT(pool_failed, x.pool, x.restarts, x.window, x.reason)
TASKER_INSPECT(lease_request, x.weight, x.timeout, x.holder)
TASKER_INSPECT(lease_return, x.id, x.broken)
TASKER_INSPECT(lease_info, x.id, x.holder, x.holder_name, x.held_for)
TASKER_INSPECT(broker_status, x.size, x.leased, x.waiting, x.saturation, x.grants, x.timeouts,
               x.reconnects, x.reclaimed, x.closing, x.leases)
TASKER_INSPECT(executor_status, x.id, x.pool, x.state, x.breaker, x.items, x.errors, x.batches,
               x.batch_size, x.poll_interval, x.backpressure)
TASKER_INSPECT(pool_member, x.id, x.draining, x.age)
TASKER_INSPECT(pool_status, x.name, x.failed, x.min, x.max, x.backpressure, x.spawned,
               x.restarts, x.recycled, x.replaced, x.members)
TASKER_INSPECT(executor_snapshot, x.id, x.pool, x.state, x.breaker, x.since_heartbeat, x.items,
               x.errors, x.batches, x.utilization, x.mean_batch_latency)
TASKER_INSPECT(pool_snapshot, x.name, x.executors, x.min, x.max, x.failed, x.utilization,
               x.queue_depth, x.items, x.errors, x.scale_ups, x.scale_downs,
               x.refused_scale_ups)
TASKER_INSPECT(runtime_event, x.at, x.kind, x.pool, x.detail)
TASKER_INSPECT(coordinator_snapshot, x.pools, x.executors, x.backpressure, x.broker, x.events,
               x.items, x.errors, x.utilization, x.shutting_down)

#undef TASKER_INSPECT

/// Registers every message type above (except the local-only lease) and the
/// two error categories with `cfg`, under the same names on every node.
inline void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<heartbeat>("tasker.heartbeat")
    .add_message_type<metrics_report>("tasker.metrics_report")
    .add_message_type<scale_up>("tasker.scale_up")
    .add_message_type<scale_down>("tasker.scale_down")
    .add_message_type<backpressure>("tasker.backpressure")
    .add_message_type<stop_request>("tasker.stop_request")
    .add_message_type<wake>("tasker.wake")
    .add_message_type<subscribe_wake>("tasker.subscribe_wake")
    .add_message_type<queue_depths>("tasker.queue_depths")
    .add_message_type<replace_executor>("tasker.replace_executor")
    .add_message_type<recycle_request>("tasker.recycle_request")
    .add_message_type<executor_joined>("tasker.executor_joined")
    .add_message_type<executor_left>("tasker.executor_left")
    .add_message_type<pool_failed>("tasker.pool_failed")
    .add_message_type<lease_request>("tasker.lease_request")
    .add_message_type<lease_return>("tasker.lease_return")
    .add_message_type<broker_status>("tasker.broker_status")
    .add_message_type<executor_status>("tasker.executor_status")
    .add_message_type<pool_status>("tasker.pool_status")
    .add_message_type<coordinator_snapshot>("tasker.coordinator_snapshot");
  auto render = [](auto code) { return to_string(code); };
  cfg.add_error_category(caf::atom("tasker"),
                         [render](std::uint8_t code, caf::atom_value, const caf::message&) {
                           return "tasker::" + render(static_cast<errc>(code));
                         });
  cfg.add_error_category(caf::atom("exec_exit"),
                         [render](std::uint8_t code, caf::atom_value, const caf::message&) {
                           return "executor_exit::" + render(static_cast<executor_exit>(code));
                         });
}

} // namespace tasker::messaging

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tasker::messaging::connection_lease)
