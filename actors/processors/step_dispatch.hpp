#pragma once
/// Step dispatch shared by the step enqueuer and the step result processor:
/// the ready steps of tasks the caller holds locked go to their namespace
/// queues and become enqueued, all in the caller's transaction.

#include "resources/store_execution.hpp"

#include <pqxx/pqxx>

#include <cstddef>
#include <string>
#include <vector>

namespace tasker::actors {

/// How long a step whose namespace queue does not exist is held back before
/// the next attempt to enqueue it.
inline constexpr int missing_queue_delay_seconds = 30;

/// Logs an error per held step, naming its queue, the step and its task, and
/// saying when it is tried again.
void report_held(const std::vector<resources::held_step>& held);

/// Sends every ready step of `tasks` (rows locked by this transaction) to
/// `<namespace><namespace_suffix>` with one batch per queue, marks them
/// enqueued (history metadata names `node_id`), then settles the tasks'
/// needs_attention flag and, with `finalize`, finalizes those of the tasks
/// that nothing can advance any more: one round trip
/// (resources::dispatch_tasks). Steps whose queue does not exist are not
/// sent: they stay pending, held back for missing_queue_delay_seconds, and an
/// error naming the queue, step and task is logged; the rest of the batch goes
/// ahead.
resources::dispatch_result dispatch_ready_steps(pqxx::transaction_base& tx,
                                                const std::vector<resources::locked_task>& tasks,
                                                const std::string& node_id,
                                                const std::string& namespace_suffix,
                                                bool finalize = false);

} // namespace tasker::actors
