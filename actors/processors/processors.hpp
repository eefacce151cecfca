#pragma once
/// The five orchestration executor types as batch processors: each
/// `process_batch` reads its queue or claims its rows in one batch, acts in
/// set-based SQL (resources/store_execution.hpp), commits its own
/// transaction(s) and reports what it did.
///
///   task_request_processor  task requests queue -> tasks (invalid ones archived)
///   task_claimer            claims ready tasks, starts them; rescues stranded steps
///   step_enqueuer           this node's claimed tasks -> step messages, steps enqueued
///   step_result_processor   step results queue -> step states, results, backoff
///   task_finalizer          finished tasks -> complete | error
///
/// Processors hold no connection and no transaction between batches, so an
/// executor may stop between any two batches without losing work. The two
/// queue processors consume their messages inside the batch's transaction
/// (queue_client::consume): an uncommitted batch leaves its messages in the
/// queue, readable at once, and its rows unchanged.

#include "actors/executor.hpp"
#include "config/executor_type.hpp"
#include "config/tasker_config.hpp"

#include <memory>
#include <string>

namespace tasker::actors {

/// Builds the batch processor for one executor type; node_id identifies this node's claims.
std::shared_ptr<batch_processor> make_processor(config::executor_type type,
                                                const config::tasker_config& cfg,
                                                const std::string& node_id);

/// NOTIFY channel raised whenever claimable work may have appeared (task created, step
/// rescued, task retried, a step result whose task the result processor could not advance).
inline constexpr const char* tasks_ready_channel = "tasker_tasks_ready";
/// Raised by a claimer that claimed tasks, so enqueuers wake at once.
inline constexpr const char* tasks_claimed_channel = "tasker_tasks_claimed";

} // namespace tasker::actors
