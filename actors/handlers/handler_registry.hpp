#pragma once
/// Step handlers: the code a worker runs for one step attempt, looked up by the
/// `handler` name a task template gives each step.

#include "messaging/wire.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tasker::actors {

/// What a handler reports for one attempt; becomes the step result's fields.
struct handler_result {
  /// True when the step succeeded.
  bool success = false;
  /// The handler's output (any JSON).
  nlohmann::json results = nlohmann::json::object();
  /// Why it failed (empty on success).
  std::string error_message;
  /// False when a retry cannot help (bad input, missing handler).
  bool retryable = true;
  /// A delay the downstream service asked for before the next attempt.
  std::optional<double> retry_after_seconds;

  /// A success carrying `results`.
  static handler_result ok(nlohmann::json results = nlohmann::json::object());
  /// A failure with `message`.
  static handler_result failure(std::string message, bool retryable = true);
};

/// Runs one step attempt. May throw: the worker turns an exception into a
/// failed, retryable result carrying its message. Called concurrently from
/// several worker threads, so it must not share unsynchronised state.
using step_handler = std::function<handler_result(const messaging::step_message&)>;

/// Handlers by name. Fill it before the worker group starts: lookups are then
/// read-only and safe from every worker thread.
class handler_registry {
public:
  /// Adds (or replaces) the handler called `name`.
  void register_handler(std::string name, step_handler fn);

  /// The handler called `name`, or nullptr.
  const step_handler* find(std::string_view name) const;

  /// Every registered name, sorted.
  std::vector<std::string> names() const;

private:
  std::map<std::string, step_handler, std::less<>> handlers_;
};

/// Options of the built-in handlers.
struct builtin_options {
  /// Hosts the `http` handler may call besides loopback (127.0.0.0/8,
  /// localhost, ::1); exact, case-insensitive host names or IP literals.
  std::vector<std::string> allowed_http_hosts;
  /// Stdout beyond this makes a `command` step fail: its result must fit in a
  /// message (queues.max_message_bytes).
  std::size_t max_command_output_bytes = messaging::default_max_message_bytes;
};

/// A registry with the built-ins (noop, sleep, fail, command, http) registered;
/// docs/handlers.md describes their inputs.
std::shared_ptr<handler_registry> make_builtin_registry(const builtin_options& options = {});

} // namespace tasker::actors
