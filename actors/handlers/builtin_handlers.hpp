#pragma once
/// The built-in step handlers. Each reads its configuration from the step's
/// `inputs`; an input of the wrong type is a non-retryable failure naming the
/// field (e.g. `inputs.ms: expected a non-negative integer`).

#include "actors/handlers/handler_registry.hpp"

namespace tasker::actors::handlers {

/// `noop`: succeeds at once with a small summary of the step.
handler_result noop(const messaging::step_message& step);

/// `sleep`: sleeps `inputs.ms` milliseconds (default 0), then succeeds.
handler_result sleep(const messaging::step_message& step);

/// `fail`: fails (retryable) while `attempt <= inputs.failures` (default 1),
/// then succeeds: a demonstration of retries.
handler_result fail(const messaging::step_message& step);

/// `command`: runs `inputs.program` with `inputs.args` (no shell), the step
/// message JSON on its stdin; its stdout JSON is the result. A non-zero exit
/// fails with the (trimmed, bounded) stderr; after the step's timeout_seconds
/// the program is killed and the attempt fails. Stdout over
/// `max_stdout_bytes` (queues.max_message_bytes) is a non-retryable failure.
handler_result command(const messaging::step_message& step,
                       std::size_t max_stdout_bytes = messaging::default_max_message_bytes);

/// The `http` handler for the given allow-list: POSTs the step message JSON
/// to `inputs.url` (loopback hosts and `allowed_hosts` only); a 2xx JSON body
/// is the result, 429/503 honour Retry-After.
step_handler make_http_handler(std::vector<std::string> allowed_hosts);

/// True when `host` (a name or IP literal, IPv6 with or without brackets) is
/// loopback: localhost, 127.0.0.0/8 or ::1.
bool is_loopback_host(std::string_view host);

} // namespace tasker::actors::handlers
