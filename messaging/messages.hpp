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

#include "messaging/snapshots.hpp"

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
/// Asks the inspector to drain the node through the coordinator's shutdown.
using drain_atom = caf::atom_constant<caf::atom("drain")>;
/// A cluster member's heartbeat timer.
using node_beat_atom = caf::atom_constant<caf::atom("node_beat")>;

// -- enums --------------------------------------------------------------------

/// Runtime errors carried in `caf::error` (category "tasker").
enum class errc : std::uint8_t {
  lease_timeout = 1, ///< a lease waiter waited longer than its timeout
  broker_closed,     ///< the broker is closing and grants nothing more
  connect_failed,    ///< a database connection could not be opened
  unknown_lease,     ///< a returned lease was not granted by this broker
  pool_failed,       ///< a pool exceeded its restart intensity
  shutdown_timeout,  ///< an orderly shutdown did not finish in time
  unknown_pool,      ///< an operator request named a pool this node does not run
  out_of_range,      ///< an operator request outside a pool's [min, max] or the budget
  shutting_down,     ///< the node is draining and takes no more operator requests
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
    case errc::unknown_pool: return "unknown_pool";
    case errc::out_of_range: return "out_of_range";
    case errc::shutting_down: return "shutting_down";
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

/// Proof of life and the executor's counters: one message from every
/// executor each heartbeat interval (one, not two: at 10,000 executors the
/// coordinator handles 10,000 messages a second instead of 20,000).
struct heartbeat {
  std::string pool;                   ///< the executor's pool (its executor type)
  std::uint64_t executor = 0;         ///< the executor's actor id
  std::string reason;                 ///< why the state is not healthy (empty otherwise)
  std::uint64_t items = 0;            ///< items processed since spawn
  std::uint64_t errors = 0;           ///< failed batches since spawn
  std::uint64_t batches = 0;          ///< batches run since spawn
  caf::timespan busy{0};              ///< time spent in batches since the last report
  caf::timespan wall{0};              ///< wall time since the last report
  caf::timespan last_batch_latency{0}; ///< duration of the most recent batch
  caf::timespan mean_batch_latency{0}; ///< mean batch duration since the last report
  breaker_state breaker = breaker_state::closed;
  executor_state state = executor_state::starting;
  double backpressure = 1.0; ///< the factor the executor obeys
  bool paused = false;       ///< takes no batches (operator pause)
  std::uint64_t mailbox = 0; ///< messages waiting in its own mailbox
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

/// Stops (`paused`) or restarts the batch loop of a pool's executors; they
/// keep heartbeating while paused. Coordinator → pool → executors.
struct pause_batches {
  bool paused = true;
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

/// Subscribes the sender to `wake` messages for the given queue names. With a
/// `group` (e.g. the executor type), a notification wakes one subscriber of
/// the group, in turn, instead of all of them: executors doing the same work
/// do not all query for one hint.
struct subscribe_wake {
  std::vector<std::string> channels;
  std::string group;
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

// -- operator → coordinator ---------------------------------------------------

/// Sets a pool's size to `size` within [min, max] and turns auto-scaling off
/// for it; with `automatic` the size is ignored and auto-scaling resumes.
/// Answered with the pool's `pool_snapshot`.
struct pool_scale {
  std::string pool;
  std::uint32_t size = 0;
  bool automatic = false;
};

/// Pauses or resumes a pool's executors; answered with its `pool_snapshot`.
struct pool_pause {
  std::string pool;
  bool paused = true;
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

// -- inspect ------------------------------------------------------------------

#define TASKER_INSPECT(type, ...)                                                    \
  template <class Inspector>                                                         \
  typename Inspector::result_type inspect(Inspector& f, type& x) {                   \
    return f(caf::meta::type_name("tasker." #type), __VA_ARGS__);                    \
  }

TASKER_INSPECT(heartbeat, x.pool, x.executor, x.reason, x.items, x.errors, x.batches, x.busy,
               x.wall, x.last_batch_latency, x.mean_batch_latency, x.breaker, x.state,
               x.backpressure, x.paused, x.mailbox)
TASKER_INSPECT(scale_up, x.count)
TASKER_INSPECT(scale_down, x.count)
TASKER_INSPECT(backpressure, x.factor)
TASKER_INSPECT(pause_batches, x.paused)
TASKER_INSPECT(pool_scale, x.pool, x.size, x.automatic)
TASKER_INSPECT(pool_pause, x.pool, x.paused)
TASKER_INSPECT(stop_request, x.graceful)
TASKER_INSPECT(wake, x.channel)
TASKER_INSPECT(subscribe_wake, x.channels, x.group)
TASKER_INSPECT(queue_depth, x.queue, x.depth)
TASKER_INSPECT(queue_depths, x.queues)
TASKER_INSPECT(replace_executor, x.executor, x.reason)
TASKER_INSPECT(recycle_request, x.executor, x.reason)
TASKER_INSPECT(executor_joined, x.pool, x.executor)
TASKER_INSPECT(executor_left, x.pool, x.executor, x.reason)
TASKER_INSPECT(pool_failed, x.pool, x.restarts, x.window, x.reason)
TASKER_INSPECT(lease_request, x.weight, x.timeout, x.holder)
TASKER_INSPECT(lease_return, x.id, x.broken)

#undef TASKER_INSPECT

/// Registers every message type above (except the local-only lease) and the
/// two error categories with `cfg`, under the same names on every node.
inline void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<heartbeat>("tasker.heartbeat")
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
    .add_message_type<coordinator_snapshot>("tasker.coordinator_snapshot")
    .add_message_type<pause_batches>("tasker.pause_batches")
    .add_message_type<pool_scale>("tasker.pool_scale")
    .add_message_type<pool_pause>("tasker.pool_pause")
    .add_message_type<pool_snapshot>("tasker.pool_snapshot")
    .add_message_type<node_inspection>("tasker.node_inspection");
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
