#pragma once
/// Task creation: a batch of task requests becomes tasks, their workflow
/// steps, edges and initial transitions in one SQL call
/// (tasker_create_tasks, 0003_orchestration.sql).

#include "resources/store_error.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <vector>

namespace tasker::resources {

/// A request to run a registered template; the fields of the wire task request.
struct task_request {
  std::string namespace_name;                        ///< wire key "namespace"
  std::string task_name;                             ///< wire key "task_name"
  std::string task_version;                          ///< empty: the latest registered
  nlohmann::json context = nlohmann::json::object(); ///< a JSON object
  std::int32_t priority = 0;                         ///< higher is claimed first
  std::string initiator;                             ///< who asked
  std::string reason;                                ///< why
  std::string request_id;                            ///< caller's id, echoed in errors
  /// The queue message the request came in, set by the request processor
  /// from the queue row, never by a producer (wire keys "message_key":
  /// "<queue>/<msg_id>", and "enqueued_at": its timestamptz text, read by
  /// PostgreSQL as a timestamptz, its own error when it cannot). With both,
  /// the task's uuid is derived from them and its steps' from the task's, so
  /// the request creates the same uuids each time it is processed
  /// (0042_redoable_task_creation.sql); without them the task gets a fresh
  /// uuid.
  std::string message_key;
  std::string enqueued_at;
};

/// The wire JSON of a request (keys namespace, task_name, task_version, ...).
nlohmann::json to_json(const task_request& request);

/// The task a request resolved to.
struct created_task {
  std::string task_uuid;  ///< new, or the existing task with the same identity
  bool duplicate = false; ///< true when the request repeated an existing task
};

/// Creates the tasks of `requests` (results in the same order), all or none,
/// in one round trip. A task's identity is sha256 of
/// "<namespace>/<name>@<version>:<context as canonical jsonb text>": a repeated
/// identical request, earlier or within the batch, returns the first task with
/// duplicate = true. Throws store_error: not_found for an unknown namespace or
/// template version, invalid_request for a malformed request or a damaged
/// template; the messages name the request index and request_id.
std::vector<created_task> create_tasks(pqxx::transaction_base& tx,
                                       const std::vector<task_request>& requests);

/// As create_tasks, taking the wire JSON array of requests unchanged, so a
/// batch read from the request queue needs no re-encoding.
std::vector<created_task> create_tasks(pqxx::transaction_base& tx, const nlohmann::json& requests);

/// Creates (or finds) the task of one request.
created_task create_task(pqxx::transaction_base& tx, const task_request& request);

} // namespace tasker::resources
