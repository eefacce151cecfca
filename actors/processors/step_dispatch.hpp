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

/// What dispatch_ready_steps did.
struct dispatch_outcome {
  std::size_t sent = 0;                              ///< steps sent and enqueued
  std::vector<resources::finalized_task> finalized; ///< with `finalize` only
};

/// Sends every ready step of `tasks` (rows locked by this transaction) to
/// `<namespace><namespace_suffix>` with one batch per queue, marks them
/// enqueued (history metadata names `node_id`), then settles the tasks'
/// needs_attention flag and, with `finalize`, finalizes those of the tasks
/// that nothing can advance any more; after the sends, one round trip. Steps
/// whose queue does not exist are not sent: they stay pending, held back for
/// missing_queue_delay_seconds, and an error naming the queue, step and task
/// is logged; the rest of the batch goes ahead.
dispatch_outcome dispatch_ready_steps(pqxx::transaction_base& tx,
                                      const std::vector<resources::locked_task>& tasks,
                                      const std::string& node_id,
                                      const std::string& namespace_suffix, bool finalize = false);

/// dispatch_ready_steps for a caller that already holds the ready steps of
/// `tasks` (resources::ready_steps with `namespace_suffix`, or
/// apply_step_results_and_advance): sends them and finishes the dispatch. A
/// step in state enqueued (created so by create_and_start_tasks) has only its
/// message sent; the others are moved to enqueued.
dispatch_outcome dispatch_steps(pqxx::transaction_base& tx,
                                const std::vector<resources::locked_task>& tasks,
                                std::vector<resources::ready_step> ready,
                                const std::string& node_id, const std::string& namespace_suffix,
                                bool finalize = false);

} // namespace tasker::actors
