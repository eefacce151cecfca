#pragma once
/// Session settings every connection of a node or worker runs with.

#include <pqxx/pqxx>

#include <string_view>

namespace tasker::resources {

/// Applies Tasker's session settings to `conn`, right after it is opened:
///
/// - `jit = off`. Tasker runs short statements over indexed rows. Once a
///   table grows, the planner's cost estimates for some of them pass
///   `jit_above_cost` and PostgreSQL compiles them with LLVM, which costs far
///   more than running them: a quarter of all CPU time in a burndown of
///   20,000 tasks went to LLVM before this setting.
void apply_session_settings(pqxx::connection_base& conn);

/// An SQL condition without columns that sets `synchronous_commit = off` for
/// the rest of the current transaction and holds. In a statement's WHERE it is
/// a one-time filter (an InitPlan) evaluated once, before anything else of the
/// statement, whether or not any row comes out.
///
/// The node's transactions that redo themselves after a crash use it: those
/// that consume durable queue messages and write nothing that a redo would
/// write differently (the request batch derives the uuids it creates from its
/// requests' queue messages, 0042_redoable_task_creation.sql). Their commit
/// returns without waiting for the WAL flush (about 0.3 to 0.45 ms on a quiet
/// server).
/// PostgreSQL writes WAL in order and every flush covers all of it before, so
/// a crash can only lose such a commit together with everything committed
/// after it, never one that a later flushed commit depends on; the server
/// comes back as at an earlier moment, with the consumed messages in their
/// queues, and the transaction runs again. A worker's connection commits its
/// claims and result posts that way, session-wide; its redo is the step run
/// again (a lost post leaves the step to the rescue sweep, which gives back
/// the attempt of a step started before the server's restart:
/// 0043_restart_aware_rescue.sql). What a producer sends stays flushed.
inline constexpr std::string_view commit_without_flush =
  "(SELECT set_config('synchronous_commit', 'off', true)) = 'off'";

} // namespace tasker::resources
