#pragma once
/// Operator actions and listings (0005_operator.sql): cancel, retry and resolve
/// tasks; list tasks and templates; a task's status with its steps; queue
/// statistics with dead-letter counts; redrive of a whole dead-letter queue.
///
/// Like the rest of the task store, every call runs in the caller's
/// transaction and throws store_error for a refusal (illegal_transition naming
/// the task, its state and the action; not_found naming the task).

#include "resources/store_error.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tasker::resources {

// -- operator actions ---------------------------------------------------------

/// What an operator action did to one task.
struct operator_outcome {
  std::string task_uuid;  ///< the task
  std::string from_state; ///< its state before
  std::string to_state;   ///< its state now
  int steps_changed = 0;  ///< steps the action moved with it
};

/// Cancels an unfinished task: pending, enqueued and failed steps become
/// cancelled, then the task; a running step is left to finish. Throws
/// store_error (illegal_transition) when the task is already complete,
/// cancelled or resolved_manually.
operator_outcome cancel_task(pqxx::transaction_base& tx, const std::string& task_uuid,
                             const nlohmann::json& metadata = nlohmann::json::object());

/// Retries a task in error: its failed steps go back to pending with attempts
/// and backoff reset; the task goes back to pending, unclaimed. Throws
/// store_error (illegal_transition) when the task is not in error.
operator_outcome retry_task(pqxx::transaction_base& tx, const std::string& task_uuid,
                            const nlohmann::json& metadata = nlohmann::json::object());

/// Settles a task by hand: its unfinished steps and the task become
/// resolved_manually. Throws store_error (illegal_transition) when it already is.
operator_outcome resolve_task(pqxx::transaction_base& tx, const std::string& task_uuid,
                              const nlohmann::json& metadata = nlohmann::json::object());

// -- templates ----------------------------------------------------------------

/// One registered template version, as listed.
struct template_summary {
  std::string namespace_name; ///< its namespace
  std::string name;           ///< template name
  std::string version;        ///< version label
  std::string description;    ///< free text
  int step_count = 0;         ///< steps in its DAG
  std::string created_at;     ///< registration time (timestamptz text)
};

/// Every registered template by namespace, name, then registration order.
std::vector<template_summary> list_templates(pqxx::transaction_base& tx);

/// One stored template version.
struct stored_template {
  std::string named_task_uuid; ///< its row
  std::string version;         ///< the version found
  nlohmann::json document;     ///< the JSON it was registered with
  std::string created_at;      ///< registration time (timestamptz text)
};

/// The template `ns/name@version`, or the latest version when `version` is
/// empty; none when nothing matches.
std::optional<stored_template> find_template(pqxx::transaction_base& tx, const std::string& ns,
                                             const std::string& name, const std::string& version);

// -- tasks --------------------------------------------------------------------

/// Which tasks list_tasks returns; empty strings match everything.
struct task_filter {
  std::string state;          ///< a task state name
  std::string namespace_name; ///< a namespace
  int limit = 50;             ///< at most this many, newest first
};

/// One task, as listed.
struct task_summary {
  std::string task_uuid;      ///< the task
  std::string namespace_name; ///< its template's namespace
  std::string task_name;      ///< its template's name
  std::string task_version;   ///< its template's version
  std::string state;          ///< current state
  std::int32_t priority = 0;  ///< claim priority
  int total_steps = 0;        ///< steps in the task
  int finished_steps = 0;     ///< complete or resolved_manually
  std::string claimed_by;     ///< node holding the claim; empty when none
  std::string created_at;     ///< timestamptz text
  std::string updated_at;     ///< timestamptz text
};

/// Tasks matching `filter`, newest first. Throws std::invalid_argument for an
/// unknown state name or a limit below 1.
std::vector<task_summary> list_tasks(pqxx::transaction_base& tx, const task_filter& filter);

/// One step of a task with its retry bookkeeping.
struct step_detail {
  std::string step_uuid;     ///< the workflow step
  std::string name;          ///< step name
  std::string handler;       ///< handler the worker runs
  std::string state;         ///< current state
  int attempts = 0;          ///< attempts started
  int retry_limit = 0;       ///< attempts allowed while retryable
  bool retryable = true;     ///< false after a non-retryable error
  std::string last_error;    ///< last failure's message; empty when none
  std::string backoff_until; ///< timestamptz text; empty when not backing off
  std::string updated_at;    ///< timestamptz text
};

/// A task's full status.
struct task_status {
  task_summary task;              ///< identity, state, priority, claim (counts as below)
  std::string initiator;          ///< who asked
  std::string reason;             ///< why
  std::string request_id;         ///< the request that created it; empty when none
  std::string claimed_at;         ///< timestamptz text; empty when unclaimed
  nlohmann::json context;         ///< the task's input
  std::string execution_status;   ///< tasker_task_execution_contexts' status
  int ready_steps = 0;            ///< steps that could start now
  std::vector<step_detail> steps; ///< in topological order
};

/// The status of one task; none when it does not exist.
std::optional<task_status> find_task_status(pqxx::transaction_base& tx,
                                            const std::string& task_uuid);

/// The task a wire task request produced.
struct requested_task {
  std::string task_uuid;  ///< the task
  bool duplicate = false; ///< an identical task existed under another request
};

/// The task of `request` (wire JSON with request_id, namespace, task_name,
/// task_version, context): the one carrying its request_id, or an identical
/// existing task; none while no node has processed it.
std::optional<requested_task> find_requested_task(pqxx::transaction_base& tx,
                                                  const nlohmann::json& request);

// -- queues -------------------------------------------------------------------

/// One queue's statistics.
struct queue_stats {
  std::string queue_name;               ///< the queue
  std::int64_t queue_length = 0;        ///< messages, in flight included
  std::int64_t visible_length = 0;      ///< readable now
  double oldest_msg_age_seconds = 0;    ///< 0 when empty
  std::int64_t total_messages_sent = 0; ///< as queue_metrics
  std::int64_t archived_count = 0;      ///< messages in its dead-letter archive
};

/// Statistics of every queue, by name.
std::vector<queue_stats> all_queue_stats(pqxx::transaction_base& tx);

/// Moves every archived message of `queue` back into it; returns their ids.
/// Throws std::invalid_argument for an invalid queue name; an unknown queue
/// surfaces as pqxx::sql_error.
std::vector<std::int64_t> redrive_all(pqxx::transaction_base& tx, const std::string& queue);

} // namespace tasker::resources
