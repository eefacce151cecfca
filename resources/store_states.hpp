#pragma once
/// The task and step state machines as seen from C++: state names, batch
/// transitions and history. The rules themselves live in SQL
/// (allowed_task_transitions / allowed_step_transitions, 0001_core.sql) and
/// are enforced by tasker_transition_tasks / tasker_transition_steps.

#include "resources/store_error.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tasker::resources {

/// States of a task: pending -> in_progress -> complete | error; error ->
/// pending; a non-terminal state -> cancelled; any other -> resolved_manually.
enum class task_state { pending, in_progress, complete, error, cancelled, resolved_manually };

/// States of a workflow step: pending -> enqueued -> in_progress -> complete |
/// error; error -> pending | enqueued (retry); enqueued -> pending and
/// in_progress -> pending (rescue of lost work); cancelled and
/// resolved_manually as for tasks.
enum class step_state {
  pending,
  enqueued,
  in_progress,
  complete,
  error,
  cancelled,
  resolved_manually
};

/// Every task state, in declaration order.
inline constexpr task_state all_task_states[] = {
    task_state::pending, task_state::in_progress, task_state::complete,
    task_state::error,   task_state::cancelled,   task_state::resolved_manually};

/// Every step state, in declaration order.
inline constexpr step_state all_step_states[] = {
    step_state::pending, step_state::enqueued,  step_state::in_progress,      step_state::complete,
    step_state::error,   step_state::cancelled, step_state::resolved_manually};

/// The SQL name of a task state, e.g. "in_progress".
std::string_view to_string(task_state state) noexcept;

/// The SQL name of a step state, e.g. "enqueued".
std::string_view to_string(step_state state) noexcept;

/// Parses a task state name; throws std::invalid_argument naming it.
task_state parse_task_state(std::string_view name);

/// Parses a step state name; throws std::invalid_argument naming it.
step_state parse_step_state(std::string_view name);

/// One applied transition of a batch.
template <class State>
struct state_change {
  std::string uuid; ///< the task or workflow step
  State from;       ///< its state before the call
  State to;         ///< its state now
};

/// Moves every task in `task_uuids` to `to`, or none: an illegal move of any
/// row throws store_error (illegal_transition, naming the task, from and to
/// state); an unknown uuid throws store_error (not_found). One round trip.
std::vector<state_change<task_state>>
transition_tasks(pqxx::transaction_base& tx, const std::vector<std::string>& task_uuids,
                 task_state to, const nlohmann::json& metadata = nlohmann::json::object());

/// As transition_tasks, for workflow steps. Entering in_progress counts an
/// attempt and stamps last_attempted_at; enqueued/in_progress set in_process;
/// complete/resolved_manually set processed.
std::vector<state_change<step_state>>
transition_steps(pqxx::transaction_base& tx, const std::vector<std::string>& step_uuids,
                 step_state to, const nlohmann::json& metadata = nlohmann::json::object());

/// The current state of one task; throws store_error (not_found).
task_state current_task_state(pqxx::transaction_base& tx, const std::string& task_uuid);

/// The current state of one workflow step; throws store_error (not_found).
step_state current_step_state(pqxx::transaction_base& tx, const std::string& step_uuid);

/// One row of a transition history.
struct transition_record {
  std::string step_uuid;                    ///< the step (empty in a task's own history)
  std::string step_name;                    ///< the step's name (empty in a task's own history)
  std::optional<std::string> from;          ///< previous state; none for the initial row
  std::string to;                           ///< state entered
  nlohmann::json metadata;                  ///< what the caller attached
  std::int32_t sort_key = 0;                ///< 1, 2, ... per row
  bool most_recent = false;                 ///< true for exactly the current state
  std::chrono::system_clock::time_point at; ///< when it was recorded
};

/// A task's own transitions, oldest first.
std::vector<transition_record> task_transition_history(pqxx::transaction_base& tx,
                                                       const std::string& task_uuid);

/// The transitions of every step of a task, by step position then oldest first.
std::vector<transition_record> step_transition_history(pqxx::transaction_base& tx,
                                                       const std::string& task_uuid);

} // namespace tasker::resources
