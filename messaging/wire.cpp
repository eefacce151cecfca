#include "messaging/wire.hpp"

#include "messaging/wire_fields.hpp"

#include <cctype>
#include <limits>

namespace tasker::messaging {

namespace {

using detail::field_reader;
using nlohmann::json;

constexpr auto int32_max = std::numeric_limits<std::int32_t>::max();

bool is_hex(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// A light check on ISO 8601 text: a calendar date, optionally followed by a
// time of day. PostgreSQL parses the full value; this only keeps arbitrary
// text out of a field people will sort and compare.
bool looks_like_iso_timestamp(std::string_view t) {
  auto digits = [&](std::size_t from, std::size_t n) {
    for (std::size_t i = from; i < from + n; ++i)
      if (i >= t.size() || !is_digit(t[i]))
        return false;
    return true;
  };
  if (!(digits(0, 4) && t.size() >= 10 && t[4] == '-' && digits(5, 2) && t[7] == '-' &&
        digits(8, 2)))
    return false;
  if (t.size() == 10)
    return true;
  return (t[10] == 'T' || t[10] == 't' || t[10] == ' ') && digits(11, 2) && t.size() >= 16 &&
         t[13] == ':' && digits(14, 2) && t.size() <= 64;
}

template <class Optional>
void put_optional(json& out, const char* key, const Optional& value) {
  if (value)
    out[key] = *value;
}

} // namespace

std::optional<std::string> oversize_reason(std::string_view queue, std::int64_t msg_id,
                                           std::size_t bytes, std::size_t max_bytes) {
  if (bytes <= max_bytes)
    return std::nullopt;
  return "message " + std::to_string(msg_id) + " on " + std::string{queue} + " is " +
         std::to_string(bytes) + " bytes, over queues.max_message_bytes (" +
         std::to_string(max_bytes) + ")";
}

bool is_valid_uuid(std::string_view text) noexcept {
  if (text.size() != 36)
    return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? text[i] != '-' : !is_hex(text[i]))
      return false;
  }
  return true;
}

wire_error::wire_error(kind why, std::string field, const std::string& problem)
    : std::runtime_error(field + ": " + problem), reason_(why), field_(std::move(field)) {}

std::string_view to_string(step_status status) noexcept {
  return status == step_status::success ? "success" : "failed";
}

// -- task_request -------------------------------------------------------------

json task_request::to_json() const {
  json out{
      {"request_id", request_id}, {"namespace", namespace_name},
      {"task_name", task_name},   {"task_version", task_version},
      {"context", context},       {"priority", priority},
      {"initiator", initiator},   {"reason", reason},
  };
  put_optional(out, "requested_at", requested_at);
  return out;
}

task_request parse_task_request(const json& j) {
  field_reader r{j, "task_request", true};
  task_request m;
  m.request_id = r.uuid("request_id");
  m.namespace_name = r.identifier("namespace");
  m.task_name = r.string("task_name");
  m.task_version = r.string("task_version");
  m.context = r.object_or_empty("context");
  m.priority = static_cast<std::int32_t>(
      r.optional_integer("priority", min_priority, max_priority).value_or(0));
  m.initiator = r.string_or("initiator", "");
  m.reason = r.string_or("reason", "");
  m.requested_at = r.optional_string("requested_at");
  if (m.requested_at && !looks_like_iso_timestamp(*m.requested_at))
    r.fail("requested_at", "expected ISO 8601 date-time such as 2026-01-31T12:00:00Z, got \"" +
                               m.requested_at->substr(0, 64) + "\"");
  return m;
}

task_request parse_task_request_text(std::string_view text, std::size_t max_bytes) {
  return parse_task_request(detail::parse_message_text("task_request", text, max_bytes));
}

// -- step_message -------------------------------------------------------------

json step_message::to_json() const {
  return {
      {"task_uuid", task_uuid},
      {"step_uuid", step_uuid},
      {"step_name", step_name},
      {"handler", handler},
      {"namespace", namespace_name},
      {"task_name", task_name},
      {"inputs", inputs},
      {"dependency_results", dependency_results},
      {"attempt", attempt},
      {"retry_limit", retry_limit},
      {"timeout_seconds", timeout_seconds},
      {"context", context},
  };
}

step_message parse_step_message(const json& j) {
  field_reader r{j, "step_message", true};
  step_message m;
  m.task_uuid = r.uuid("task_uuid");
  m.step_uuid = r.uuid("step_uuid");
  m.step_name = r.string("step_name");
  m.handler = r.string("handler");
  m.namespace_name = r.identifier("namespace");
  m.task_name = r.string("task_name");
  m.inputs = r.object_or_empty("inputs");
  m.dependency_results = r.object_or_empty("dependency_results");
  m.attempt = static_cast<std::int32_t>(r.integer("attempt", 1, int32_max));
  m.retry_limit = static_cast<std::int32_t>(r.integer("retry_limit", 0, int32_max));
  m.timeout_seconds = static_cast<std::int32_t>(r.integer("timeout_seconds", 1, int32_max));
  m.context = r.object_or_empty("context");
  return m;
}

step_message parse_step_message_text(std::string_view text, std::size_t max_bytes) {
  return parse_step_message(detail::parse_message_text("step_message", text, max_bytes));
}

// -- step_result --------------------------------------------------------------

json step_result::to_json() const {
  json out{
      {"task_uuid", task_uuid},
      {"step_uuid", step_uuid},
      {"status", std::string{messaging::to_string(status)}},
      {"results", results},
      {"execution_time_ms", execution_time_ms},
  };
  if (error) {
    json e{{"message", error->message}, {"retryable", error->retryable}};
    put_optional(e, "code", error->code);
    out["error"] = std::move(e);
  }
  put_optional(out, "retry_after_seconds", retry_after_seconds);
  if (worker)
    out["worker"] = {{"id", worker->id}, {"hostname", worker->hostname}, {"pid", worker->pid}};
  put_optional(out, "attempt", attempt);
  return out;
}

step_result parse_step_result(const json& j) {
  field_reader r{j, "step_result", true};
  step_result m;
  m.task_uuid = r.uuid("task_uuid");
  m.step_uuid = r.uuid("step_uuid");
  auto status = r.string("status");
  if (status == "success")
    m.status = step_status::success;
  else if (status == "failed")
    m.status = step_status::failed;
  else
    r.fail("status", "expected \"success\" or \"failed\", got \"" + status.substr(0, 64) + "\"");
  if (auto it = j.find("results"); it != j.end())
    m.results = *it;
  if (const auto* e = r.find("error")) {
    field_reader er{*e, r.path("error"), false};
    m.error =
        step_error{er.string("message", true), er.boolean("retryable"), er.optional_string("code")};
  } else if (m.status == step_status::failed) {
    r.fail("error", "required when status is \"failed\": an object {message, retryable}");
  }
  m.retry_after_seconds = r.optional_number("retry_after_seconds", 0.0);
  m.execution_time_ms = r.optional_number("execution_time_ms", 0.0).value_or(0.0);
  if (const auto* w = r.find("worker")) {
    field_reader wr{*w, r.path("worker"), false};
    m.worker = worker_info{
        wr.string_or("id", ""), wr.string_or("hostname", ""),
        wr.optional_integer("pid", 0, std::numeric_limits<std::int64_t>::max()).value_or(0)};
  }
  if (auto attempt = r.optional_integer("attempt", 1, int32_max))
    m.attempt = static_cast<std::int32_t>(*attempt);
  return m;
}

step_result parse_step_result_text(std::string_view text, std::size_t max_bytes) {
  return parse_step_result(detail::parse_message_text("step_result", text, max_bytes));
}

} // namespace tasker::messaging
