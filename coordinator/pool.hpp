#pragma once
/// The pool supervisor: one per executor type. Spawns, links to and restarts
/// its executors, applies scale up/down within [min, max], drains on stop.
///
/// Protocol (besides exit messages from its linked executors):
///   scale_up / scale_down       from the coordinator
///   replace_executor            from the coordinator (stale heartbeat)
///   recycle_request             from an executor that reached its budget
///   backpressure                from the coordinator, forwarded to every executor
///   pause_batches               from the coordinator, forwarded to every executor;
///                               executors spawned while paused start paused
///   status_atom                 → pool_status
///   stop_request                → pool_status once every executor is gone
/// It tells the coordinator `executor_joined` / `executor_left` as members
/// change, and `pool_failed` when restarts exceed the restart intensity.
///
/// Shutdown contract: on `stop_request` the pool spawns nothing more, asks
/// every executor to stop (graceful: finish the batch and return the lease),
/// kills an executor still running after `stop_timeout`, replies once the last
/// one is gone and then quits. A failed pool stops its executors the same way
/// but stays alive to answer status queries until it is stopped.

#include "coordinator/restart_intensity.hpp"
#include "messaging/messages.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tasker::coordinator {

/// The actors an executor talks to, handed to the executor factory.
struct spawn_context {
  /// The pool's name: the executor type, e.g. "task_claimer".
  std::string pool;
  /// The executor's pool: recycle requests go here.
  caf::actor pool_actor;
  /// Receives the executors' heartbeats (their state and counters).
  caf::actor coordinator;
  /// Leases database connections.
  caf::actor broker;
  /// Delivers `wake` on queue notifications; may be null (poll only).
  caf::actor listener;
  /// The backpressure factor in force when the executor starts.
  double backpressure = 1.0;
  /// The pool's connection priority, used in lease requests.
  double resource_weight = 1.0;
  /// Spawn detached (production: libpqxx blocks) or on the scheduler (tests).
  bool detached = true;
  /// Start with the batch loop paused (the pool is paused by an operator).
  bool paused = false;
};

/// Spawns one executor; the pool links to and monitors what it returns.
using executor_factory = std::function<caf::actor(caf::actor_system&, const spawn_context&)>;

/// A pool's sizing, supervision and spawn mode.
struct pool_options {
  /// The executor type this pool runs.
  std::string name;
  /// Executors kept running at all times.
  std::size_t min = 1;
  /// Ceiling for scale-ups.
  std::size_t max = 1;
  /// Priority for contended connections and budget grants.
  double resource_weight = 1.0;
  /// How long a draining executor may take before it is killed.
  caf::timespan stop_timeout{std::chrono::seconds{30}};
  /// Restarts tolerated before the pool escalates.
  restart_settings restart;
  /// Spawn executors detached (production) or on the scheduler (tests).
  bool detached = true;
};

/// The peers a pool hands on to its executors.
struct pool_peers {
  caf::actor coordinator;
  caf::actor broker;
  caf::actor listener;
};

/// One executor as the pool tracks it.
struct pool_member_record {
  caf::actor handle;
  caf::actor_clock::time_point spawned_at{};
  /// Told to stop (scale-down, recycle, replacement, shutdown): its exit is expected.
  bool draining = false;
};

/// The pool's state; see the file comment for the protocol.
struct pool_state {
  pool_options options;
  pool_peers peers;
  executor_factory factory;
  restart_intensity intensity;
  std::vector<pool_member_record> members;
  double backpressure = 1.0;
  bool paused = false;
  bool failed = false;
  bool stopping = false;
  caf::response_promise stop_promise;
  std::uint64_t spawned = 0;
  std::uint64_t restarts = 0;
  std::uint64_t recycled = 0;
  std::uint64_t replaced = 0;

  /// Name under which CAF reports this actor.
  static inline const char* name = "tasker.pool";
};

/// The pool's behavior: spawns `options.min` executors from `factory` at once.
caf::behavior pool(caf::stateful_actor<pool_state>* self, pool_options options,
                   pool_peers peers, executor_factory factory);

} // namespace tasker::coordinator
