#pragma once
/// Step readiness and task execution context (0003_orchestration.sql).
///
/// A step is ready when it is pending, or failed and retry-eligible
/// (retryable and attempts < retry_limit); it is not in process; every parent
/// is complete or resolved_manually; and its backoff_until has passed. Only
/// steps of tasks still pending or in progress are handed out.

#include "resources/store_error.hpp"
#include "resources/store_states.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tasker::resources {

/// A step that may be enqueued now, with what its step message needs.
struct ready_step {
  std::string task_uuid;                  ///< owning task
  std::string step_uuid;                  ///< the workflow step
  std::string namespace_name;             ///< selects the namespace queue
  std::string step_name;                  ///< unique within the task
  std::string handler;                    ///< what the worker runs
  step_state state = step_state::pending; ///< pending, error for a retry, or enqueued
                                          ///< when created so (only its message is due)
  std::int32_t attempts = 0;              ///< attempts started so far
  std::int32_t retry_limit = 0;           ///< attempts allowed in total
  std::int32_t timeout_seconds = 0;       ///< time one attempt may take
  nlohmann::json inputs;                  ///< the step's static inputs
  nlohmann::json task_context;            ///< the task's context
  nlohmann::json parent_results;          ///< parent step name -> its results (null if none)
  bool queue_exists = true;               ///< namespace_name + suffix names a queue (see below)
};

/// The ready steps of `task_uuids`, per task in topological order; one round trip.
/// With `queue_suffix`, each step also says whether the queue named
/// namespace_name + suffix exists (tasker_mq.meta), read in the same statement.
std::vector<ready_step> ready_steps(pqxx::transaction_base& tx,
                                    const std::vector<std::string>& task_uuids,
                                    const std::optional<std::string>& queue_suffix = std::nullopt);

/// A ready step from its JSON form: a tasker_ready_steps row as to_jsonb
/// makes it, plus `queue_exists` (true when absent). Throws
/// std::invalid_argument naming a missing or mistyped field.
ready_step ready_step_from_json(const nlohmann::json& row);

/// Where a task stands, first match wins (see tasker_task_execution_contexts).
enum class execution_status {
  all_complete,             ///< every step complete or resolved_manually
  has_ready_steps,          ///< a step can start now
  processing,               ///< steps are enqueued or running, none ready
  blocked_by_failures,      ///< failed (retries exhausted) or cancelled steps: nothing can run
  waiting_for_dependencies, ///< nothing can start now, but something will (e.g. a backoff)
};

/// The SQL name of a status, e.g. "blocked_by_failures".
std::string_view to_string(execution_status status) noexcept;

/// Parses a status name; throws std::invalid_argument naming it.
execution_status parse_execution_status(std::string_view name);

/// Step counts of one task and its status.
struct execution_context {
  std::string task_uuid;                  ///< the task
  task_state state = task_state::pending; ///< the task's own state
  std::int32_t total = 0;                 ///< all steps
  std::int32_t pending = 0;               ///< pending steps
  std::int32_t enqueued = 0;              ///< enqueued steps
  std::int32_t in_progress = 0;           ///< running steps
  std::int32_t complete = 0;              ///< complete or resolved_manually
  std::int32_t error = 0;                 ///< failed steps, retry-eligible or not
  std::int32_t failed = 0;                ///< failed with no retry left
  std::int32_t cancelled = 0;             ///< cancelled steps
  std::int32_t ready = 0;                 ///< steps that can start now
  std::int32_t backing_off = 0;           ///< startable once their backoff passes
  execution_status status = execution_status::waiting_for_dependencies; ///< summary
};

/// The execution context of each task in `task_uuids` that exists; one round trip.
std::vector<execution_context> execution_contexts(pqxx::transaction_base& tx,
                                                  const std::vector<std::string>& task_uuids);

/// The execution context of one task; throws store_error (not_found).
execution_context task_execution_context(pqxx::transaction_base& tx, const std::string& task_uuid);

} // namespace tasker::resources
