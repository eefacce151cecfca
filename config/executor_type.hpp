#pragma once
/// The five kinds of orchestration executor, as named in configuration files,
/// metrics and log lines.

#include <array>
#include <optional>
#include <string_view>

namespace tasker::config {

/// One kind of orchestration executor; each kind has its own pool.
enum class executor_type {
  task_request_processor, ///< turns queued task requests into tasks
  task_claimer,           ///< claims ready tasks for this node
  step_enqueuer,          ///< enqueues ready steps to namespace queues
  step_result_processor,  ///< applies step results from workers
  task_finalizer,         ///< marks tasks complete or failed
};

/// Every executor type, in pipeline order.
inline constexpr std::array<executor_type, 5> all_executor_types{
    executor_type::task_request_processor, executor_type::task_claimer,
    executor_type::step_enqueuer, executor_type::step_result_processor,
    executor_type::task_finalizer};

/// The snake_case name used in configuration keys, e.g. "task_claimer".
std::string_view to_string(executor_type type) noexcept;

/// The executor type called `name`, or nothing when no type has that name.
std::optional<executor_type> executor_type_from_string(std::string_view name) noexcept;

} // namespace tasker::config
