#pragma once
/// Execution: the batch operations of the orchestration executors, each one
/// SQL function call (0004_execution.sql) inside the caller's transaction —
/// claim and start tasks, lock this node's claims, apply step results,
/// rescue stranded steps, finalize tasks.
///
/// The SQL raises `pg_notify('tasker_tasks_ready', '')` (delivered at commit)
/// whenever claimable work may have appeared: tasks created, steps rescued.
/// Applying step results does not: the result processor advances the tasks
/// it touched itself and raises it only for those it could not lock.

#include "resources/store_error.hpp"
#include "resources/store_readiness.hpp"
#include "resources/store_tasks.hpp"
#include "resources/store_states.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tasker::resources {

/// Resolves every request of a batch against the template registry in one
/// round trip (tasker_resolve_task_requests); for each request, in order, an
/// empty string when it names a registered template, else why not, e.g.
/// `unknown namespace "x"` or `unknown task template ns/name@1.0.0`.
std::vector<std::string> task_request_problems(pqxx::transaction_base& tx,
                                               const nlohmann::json& requests);

/// A task claimed by claim_and_start_tasks.
struct started_task {
  std::string task_uuid;      ///< the claimed task
  std::string namespace_name; ///< its namespace
  bool started = false;       ///< true when this call moved it pending -> in_progress
};

/// Claims up to `limit` ready tasks for `node_id` (as claim_ready_tasks) and
/// moves the pending ones to in_progress, in one round trip.
std::vector<started_task> claim_and_start_tasks(pqxx::transaction_base& tx,
                                                std::string_view node_id, std::int32_t limit,
                                                std::int32_t claim_timeout_seconds,
                                                double aging_seconds);

/// A task this node holds a claim on, locked for this transaction.
struct locked_task {
  std::string task_uuid;      ///< the task
  std::string namespace_name; ///< selects the namespace queue
  std::string task_name;      ///< its template's name
};

/// Starts `task_uuids` (pending tasks this transaction has just created) on
/// `node_id` unless another claimable task has a ready step (the claim path
/// then orders them by priority); returns the tasks started, for the caller
/// to dispatch their ready steps in the same transaction.
std::vector<locked_task> start_new_tasks(pqxx::transaction_base& tx,
                                         const std::vector<std::string>& task_uuids,
                                         std::string_view node_id);

/// Locks up to `limit` unfinished tasks claimed by `node_id`, skipping rows
/// another transaction holds, so concurrent enqueuers never share a task.
std::vector<locked_task> lock_claimed_tasks(pqxx::transaction_base& tx, std::string_view node_id,
                                            std::int32_t limit);

/// What applying one step result did.
enum class result_outcome {
  completed,   ///< the step is complete with the results
  retrying,    ///< the step failed and is ready again after its backoff
  failed,      ///< the step failed for good (not retryable, or no attempts left)
  duplicate,   ///< the step was not waiting for this result: nothing changed
  stale,       ///< the result names an attempt other than the current one: nothing changed
  unknown_step ///< no such step in that task: the message should be archived
};

/// The SQL name of an outcome, e.g. "unknown_step".
std::string_view to_string(result_outcome outcome) noexcept;

/// The classification of one element of a result batch.
struct applied_result {
  std::int32_t ordinal = 0;                           ///< index into the batch
  std::string step_uuid;                              ///< empty when not a UUID
  result_outcome outcome = result_outcome::duplicate; ///< what happened
  std::string detail;                                 ///< why, for duplicate/stale/unknown_step
};

/// A step moved by the rescue sweep.
struct rescued_step {
  std::string step_uuid;                  ///< the step
  std::string task_uuid;                  ///< its task
  step_state from = step_state::enqueued; ///< enqueued or in_progress
  step_state to = step_state::pending;    ///< pending, or error when no attempt is left
                                          ///< (and it was not cut short by a restart)
  bool attempt_given_back = false;        ///< cut short by a restart: attempt not counted
};

/// Rescues up to `limit` steps stranded enqueued or in progress for longer than
/// their timeout_seconds, in one round trip. A step in progress since before
/// the database server's last start or its last recovery from a crash
/// (tasker_server_restart, 0043_restart_aware_rescue.sql) goes back to pending
/// with its attempt given back, once per attempt, whatever attempts it has
/// left: its result may have been lost with the restart.
std::vector<rescued_step> rescue_stale_steps(pqxx::transaction_base& tx, std::int32_t limit);

/// A task finalized by finalize_tasks.
struct finalized_task {
  std::string task_uuid;                ///< the task
  task_state to = task_state::complete; ///< complete, or error when failures block it
};

/// Finalizes up to `limit` in-progress tasks that nothing can advance any
/// more (all steps complete → complete; blocked by failures → error).
std::vector<finalized_task> finalize_tasks(pqxx::transaction_base& tx, std::int32_t limit);

/// A ready step a dispatch held back: the queue named by its namespace and
/// the suffix does not exist.
struct held_step {
  std::string task_uuid; ///< its task
  std::string step_uuid; ///< the step, left pending (or error) with its backoff moved ahead
  std::string queue;     ///< the missing queue
};

/// What a dispatch did (tasker_dispatch).
struct dispatch_result {
  std::size_t sent = 0;                  ///< step messages sent
  std::vector<held_step> held;           ///< steps whose queue does not exist
  std::vector<finalized_task> finalized; ///< with finalization only
};

/// Sends the ready steps of `tasks` (rows this transaction holds locked) and
/// finishes the dispatch, in one round trip (tasker_dispatch): builds each
/// step message (docs/wire-protocol.md) from the step, inserts one batch per
/// namespace queue (namespace_name + `queue_suffix`) with its notification,
/// moves the sent steps to enqueued (history metadata names `node_id`; a step
/// created enqueued only has its message sent), holds back the steps whose
/// queue does not exist for `hold_seconds`, then settles the tasks'
/// needs_attention flag and, with `finalize`, finalizes those that nothing can
/// advance any more.
dispatch_result dispatch_tasks(pqxx::transaction_base& tx, const std::vector<locked_task>& tasks,
                               std::string_view node_id, const std::string& queue_suffix,
                               bool finalize, int hold_seconds);

/// What create_start_and_dispatch did.
struct created_and_dispatched {
  std::vector<created_task> created; ///< one per request, in request order
  dispatch_result dispatch;          ///< of the tasks it started
};

/// In one round trip (tasker_create_start_and_dispatch): creates the tasks of
/// `requests` (the wire JSON array, as create_tasks) and, with `start`, when
/// start_new_tasks would start them, creates them in_progress with their root
/// steps enqueued (where the queue namespace_name + `queue_suffix` exists),
/// then dispatch_tasks of the tasks it started (without finalization). With
/// `start`, new tasks left to the claim path raise tasker_tasks_ready, and no
/// other insert of this transaction does. Throws store_error as create_tasks,
/// leaving the transaction aborted. When every request carries its queue
/// message (task_request::message_key and enqueued_at), the tasks' and steps'
/// uuids are derived from the messages, so the same requests create the same
/// uuids again, and the rest of the transaction commits without waiting for
/// the WAL flush (commit_without_flush, session.hpp): it is meant to consume
/// the requests from their queue, so a commit lost in a crash returns them to
/// the queue and they create the same tasks again.
created_and_dispatched create_start_and_dispatch(pqxx::transaction_base& tx,
                                                 const nlohmann::json& requests,
                                                 std::string_view node_id, bool start,
                                                 const std::string& queue_suffix,
                                                 int hold_seconds);

/// What apply_results_and_dispatch did.
struct applied_and_dispatched {
  std::vector<applied_result> results; ///< one per result, in batch order
  std::size_t touched = 0;             ///< tasks whose steps changed state
  std::size_t locked = 0;              ///< of those, locked and advanced by this call
  dispatch_result dispatch;            ///< of the locked tasks, with finalization
};

/// Applies `results` (a JSON array of wire step_result objects) and advances
/// what they touched, in one round trip (tasker_apply_results_and_dispatch):
/// locks the tasks the results name in a fixed order, waiting for rows other
/// transactions hold (task uuids that are not uuids are ignored); classifies
/// each result against its step (attempt and state checks make a repeated or
/// late result a no-op; only the first applicable result of a step in the
/// batch applies) and applies it; locks the tasks whose steps completed,
/// failed or will be retried and that carry no live claim of another node,
/// skipping rows another transaction holds (the others are flagged for
/// attention and the claimers woken, tasker_tasks_ready, on commit); then
/// dispatches the locked tasks as dispatch_tasks does, with finalization.
/// Results come back in batch order. The rest of the transaction commits
/// without waiting for the WAL flush (commit_without_flush, session.hpp): it
/// is meant to consume the results it applies from their queue, so a commit
/// lost in a crash returns them to the queue and they are applied again.
applied_and_dispatched apply_results_and_dispatch(pqxx::transaction_base& tx,
                                                  const nlohmann::json& results,
                                                  std::string_view node_id,
                                                  const std::string& queue_suffix,
                                                  int hold_seconds);

} // namespace tasker::resources
