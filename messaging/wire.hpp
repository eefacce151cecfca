#pragma once
/// The JSON messages exchanged through the queues: task requests (into
/// orchestration_task_requests), step messages (into <namespace>_queue) and
/// step results (into orchestration_step_results). docs/wire-protocol.md
/// describes them for workers written in any language.
///
/// Parsing is forward compatible: unknown fields are ignored, so a newer
/// sender can add fields without breaking an older reader. A missing or
/// ill-typed required field is an error naming the field, e.g.
/// `task_request.priority: expected integer in -1000..1000, got "high"`.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tasker::messaging {

/// Largest message text accepted by default (1 MiB).
inline constexpr std::size_t default_max_message_bytes = std::size_t{1} << 20;

/// Lowest task priority.
inline constexpr std::int32_t min_priority = -1000;
/// Highest task priority.
inline constexpr std::int32_t max_priority = 1000;

/// Why message `msg_id` of `bytes` bytes on `queue` is refused under the limit
/// `max_bytes` (queues.max_message_bytes), or nothing when it fits:
/// "message 12 on orchestration_task_requests is 10485876 bytes, over
/// queues.max_message_bytes (1048576)". Checked before the text is parsed.
std::optional<std::string> oversize_reason(std::string_view queue, std::int64_t msg_id,
                                           std::size_t bytes, std::size_t max_bytes);

/// True when `text` is a UUID in 8-4-4-4-12 hexadecimal form (either case).
bool is_valid_uuid(std::string_view text) noexcept;

/// A message that cannot be accepted; the text says which field and why.
class wire_error : public std::runtime_error {
public:
  /// Why the message was rejected; callers archive it with this reason.
  enum class kind {
    too_large,    ///< the text exceeds the size limit
    invalid_json, ///< the text is not JSON, or not a JSON object
    invalid_field ///< a field is missing, ill-typed or out of range
  };

  /// Builds "<field>: <problem>".
  wire_error(kind why, std::string field, const std::string& problem);

  /// Why the message was rejected.
  kind reason() const noexcept { return reason_; }

  /// The offending field path, such as "step_result.error.message".
  const std::string& field() const noexcept { return field_; }

private:
  kind reason_;
  std::string field_;
};

/// A request to start a task from a registered template.
struct task_request {
  /// Client-chosen UUID; makes a resent request idempotent.
  std::string request_id;
  /// Namespace of the template (an SQL identifier).
  std::string namespace_name;
  /// Template name.
  std::string task_name;
  /// Template version.
  std::string task_version;
  /// The task's input, visible to every step (a JSON object).
  nlohmann::json context = nlohmann::json::object();
  /// Higher runs sooner, -1000..1000.
  std::int32_t priority = 0;
  /// Who asked for the task (free text).
  std::string initiator;
  /// Why the task was asked for (free text).
  std::string reason;
  /// When the client sent the request (ISO 8601 text), if it said.
  std::optional<std::string> requested_at;

  /// The message as JSON; parse_task_request(to_json()) gives it back.
  nlohmann::json to_json() const;

  /// Field-wise equality.
  friend bool operator==(const task_request&, const task_request&) = default;
};

/// One attempt of one step, sent to the namespace queue for a worker.
struct step_message {
  /// The task the step belongs to.
  std::string task_uuid;
  /// The step.
  std::string step_uuid;
  /// The step's name in the template.
  std::string step_name;
  /// Handler the worker runs.
  std::string handler;
  /// Namespace of the task (an SQL identifier).
  std::string namespace_name;
  /// Template name of the task.
  std::string task_name;
  /// The step's static inputs from the template (a JSON object).
  nlohmann::json inputs = nlohmann::json::object();
  /// Results of the parent steps, keyed by parent step name (a JSON object).
  nlohmann::json dependency_results = nlohmann::json::object();
  /// Which attempt this is, from 1.
  std::int32_t attempt = 1;
  /// Retries allowed after the first failure.
  std::int32_t retry_limit = 0;
  /// Time the worker may spend on this attempt (> 0).
  std::int32_t timeout_seconds = 300;
  /// The task's context (a JSON object).
  nlohmann::json context = nlohmann::json::object();

  /// The message as JSON; parse_step_message(to_json()) gives it back.
  nlohmann::json to_json() const;

  /// Field-wise equality.
  friend bool operator==(const step_message&, const step_message&) = default;
};

/// Outcome of one step attempt.
enum class step_status {
  success, ///< the handler finished; `results` holds its output
  failed   ///< the handler failed; `error` says why
};

/// Why a step attempt failed.
struct step_error {
  /// For people.
  std::string message;
  /// False when retrying cannot help (bad input, missing handler).
  bool retryable = true;
  /// Machine-readable error code, if the handler has one.
  std::optional<std::string> code;

  /// Field-wise equality.
  friend bool operator==(const step_error&, const step_error&) = default;
};

/// Who ran a step attempt; for diagnostics only.
struct worker_info {
  /// Worker identity (free text).
  std::string id;
  /// Host the worker ran on.
  std::string hostname;
  /// Process id of the worker.
  std::int64_t pid = 0;

  /// Field-wise equality.
  friend bool operator==(const worker_info&, const worker_info&) = default;
};

/// A worker's report on one step attempt, sent to orchestration_step_results.
struct step_result {
  /// The task the step belongs to.
  std::string task_uuid;
  /// The step.
  std::string step_uuid;
  /// Success or failure.
  step_status status = step_status::success;
  /// The handler's output (any JSON; null when none).
  nlohmann::json results = nullptr;
  /// Why it failed; always present when status is failed.
  std::optional<step_error> error;
  /// Delay the server asked for before the next attempt (Retry-After), >= 0.
  std::optional<double> retry_after_seconds;
  /// Time the handler ran, in milliseconds (>= 0).
  double execution_time_ms = 0;
  /// Who ran the attempt.
  std::optional<worker_info> worker;
  /// Which attempt this reports on, when the worker says.
  std::optional<std::int32_t> attempt;

  /// The message as JSON; parse_step_result(to_json()) gives it back.
  nlohmann::json to_json() const;

  /// Field-wise equality.
  friend bool operator==(const step_result&, const step_result&) = default;
};

/// "success" or "failed".
std::string_view to_string(step_status status) noexcept;

/// Reads a task request from JSON; throws wire_error.
task_request parse_task_request(const nlohmann::json& json);

/// Reads a task request from text no longer than `max_bytes`; throws wire_error.
task_request parse_task_request_text(std::string_view text,
                                     std::size_t max_bytes = default_max_message_bytes);

/// Reads a step message from JSON; throws wire_error.
step_message parse_step_message(const nlohmann::json& json);

/// Reads a step message from text no longer than `max_bytes`; throws wire_error.
step_message parse_step_message_text(std::string_view text,
                                     std::size_t max_bytes = default_max_message_bytes);

/// Reads a step result from JSON; throws wire_error.
step_result parse_step_result(const nlohmann::json& json);

/// Reads a step result from text no longer than `max_bytes`; throws wire_error.
step_result parse_step_result_text(std::string_view text,
                                   std::size_t max_bytes = default_max_message_bytes);

} // namespace tasker::messaging
