#pragma once
/// What the coordinator actor's translation units share: the actor pointer,
/// the event log and the snapshot (coordinator_actor.cpp) used by operator
/// control (coordinator_control.cpp). Not part of the public API.

#include "coordinator/coordinator_actor.hpp"

#include <caf/stateful_actor.hpp>

#include <string>

namespace tasker::coordinator::detail {

using coordinator_ptr = caf::stateful_actor<coordinator_state>*;

/// Appends an event to the coordinator's bounded log and the node's log.
void log_event(coordinator_ptr self, std::string kind, std::string pool, std::string detail);

/// The coordinator's current snapshot (what `status_atom` answers).
messaging::coordinator_snapshot snapshot_of(coordinator_ptr self);

/// `pool_scale` from an operator: sets a pool's size within [min, max] and the
/// budget and marks it manual, or gives it back to auto-scaling.
caf::result<messaging::pool_snapshot> manual_scale(coordinator_ptr self,
                                                   const messaging::pool_scale& req);

/// `pool_pause` from an operator: pauses or resumes a pool's batch loops.
caf::result<messaging::pool_snapshot> pause_pool(coordinator_ptr self,
                                                 const messaging::pool_pause& req);

} // namespace tasker::coordinator::detail
