#pragma once
/// The worker group: a supervisor and `concurrency` detached worker actors
/// that consume one namespace queue (see actors/worker_loop.hpp for what one
/// worker does with a batch).
///
/// Each worker actor is spawned detached because libpqxx and the handlers
/// block; between batches it waits for a NOTIFY on its queue or the poll
/// interval. The supervisor never blocks: it answers `status_atom` from
/// counters the workers update, and restarts a worker that died (e.g. its
/// connection failed) after `restart_delay`.
///
/// Shutdown contract: an exit message (any reason, trapped) or a
/// `stop_request` sent to the supervisor makes it send `stop_request` to every
/// worker; each worker finishes the batch it is running (every step it took
/// runs and its result is posted) and quits; the supervisor quits with the
/// exit reason (normal for a stop_request) once all of them are gone. A
/// worker whose supervisor is gone (even killed) stops the same way.

#include "actors/handlers/handler_registry.hpp"
#include "actors/worker_loop.hpp"
#include "actors/worker_options.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/meta/type_name.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace tasker::actors {

/// Delay before a worker that died is replaced.
inline constexpr std::chrono::seconds restart_delay{1};

/// The supervisor's answer to `status_atom`.
struct worker_group_status {
  std::string namespace_name; ///< the namespace served
  std::string queue;          ///< the queue consumed
  std::uint32_t workers = 0;  ///< worker actors alive
  std::uint64_t claims = 0;   ///< reads of the queue, empty ones included
  std::uint64_t steps_run = 0;
  std::uint64_t failures = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t archived = 0;
  std::uint64_t errors = 0;   ///< failed batches (lost connection, ...)
  std::uint64_t restarts = 0; ///< workers replaced after dying
  bool stopping = false;
};

/// CAF inspection of worker_group_status.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_group_status& x) {
  return f(caf::meta::type_name("tasker.worker_group_status"), x.namespace_name, x.queue,
           x.workers, x.claims, x.steps_run, x.failures, x.duplicates, x.archived, x.errors, x.restarts,
           x.stopping);
}

/// Spawns the worker group (a supervisor with `concurrency` detached worker
/// actors); returns the supervisor. Throws std::invalid_argument for an
/// invalid namespace or queue name, before anything is spawned.
caf::actor spawn_worker_group(caf::actor_system& sys, const worker_options& opts,
                              std::shared_ptr<const handler_registry> handlers);

} // namespace tasker::actors
