#include "messaging/wire.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <string>

using namespace tasker::messaging;
using nlohmann::json;

namespace {

constexpr const char* uuid_a = "0191a3c4-7e1f-7c2a-9b3d-4e5f60718293";
constexpr const char* uuid_b = "6F9619FF-8B86-D011-B42D-00C04FC964FF";

// The wire_error thrown by `f`; fails the test if none is thrown.
wire_error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const wire_error& e) {
    return e;
  }
  FAIL("expected a wire_error");
  return wire_error{wire_error::kind::invalid_field, "", ""};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

task_request sample_request() {
  task_request r;
  r.request_id = uuid_a;
  r.namespace_name = "payments";
  r.task_name = "refund";
  r.task_version = "1.2.0";
  r.context = {{"order_id", 42}, {"tags", {"a", "b"}}};
  r.priority = -250;
  r.initiator = "billing-api";
  r.reason = "customer asked";
  r.requested_at = "2026-01-31T12:00:00.250Z";
  return r;
}

step_message sample_step() {
  step_message m;
  m.task_uuid = uuid_a;
  m.step_uuid = uuid_b;
  m.step_name = "join";
  m.handler = "noop";
  m.namespace_name = "examples";
  m.task_name = "diamond_workflow";
  m.inputs = {{"branch", "left"}};
  m.dependency_results = {{"left", {{"rows", 3}}}, {"right", nullptr}};
  m.attempt = 2;
  m.retry_limit = 3;
  m.timeout_seconds = 30;
  m.context = {{"order_id", 42}};
  return m;
}

step_result sample_failure() {
  step_result r;
  r.task_uuid = uuid_a;
  r.step_uuid = uuid_b;
  r.status = step_status::failed;
  r.results = {{"partial", true}};
  r.error = step_error{"upstream returned 503", true, "http_503"};
  r.retry_after_seconds = 1.5;
  r.execution_time_ms = 812.25;
  r.worker = worker_info{"worker-7", "node-a", 4242};
  r.attempt = 2;
  return r;
}

} // namespace

TEST_CASE("each message survives to_json, text and parsing unchanged") {
  auto req = sample_request();
  CHECK(parse_task_request(req.to_json()) == req);
  CHECK(parse_task_request_text(req.to_json().dump()) == req);
  auto step = sample_step();
  CHECK(parse_step_message(step.to_json()) == step);
  CHECK(parse_step_message_text(step.to_json().dump()) == step);
  auto failure = sample_failure();
  CHECK(parse_step_result(failure.to_json()) == failure);
  CHECK(parse_step_result_text(failure.to_json().dump()) == failure);
  step_result success;
  success.task_uuid = uuid_a;
  success.step_uuid = uuid_b;
  success.results = json::array({1, 2, 3});
  CHECK(parse_step_result_text(success.to_json().dump()) == success);
  CHECK(success.to_json()["status"] == "success");
  CHECK_FALSE(success.to_json().contains("error"));
}

TEST_CASE("optional task request fields take their defaults and unknown fields are ignored") {
  json j{{"request_id", uuid_a},
         {"namespace", "payments"},
         {"task_name", "refund"},
         {"task_version", "1"},
         {"added_in_a_later_version", {1, 2}},
         {"initiator", nullptr}};
  auto r = parse_task_request(j);
  CHECK(r.context == json::object());
  CHECK(r.priority == 0);
  CHECK(r.initiator.empty());
  CHECK(r.reason.empty());
  CHECK_FALSE(r.requested_at.has_value());
  CHECK_FALSE(r.to_json().contains("added_in_a_later_version"));
}

TEST_CASE("every required field of every message is named when it is missing") {
  struct message_case {
    const char* name;
    json sample;
    std::function<void(const json&)> parse;
    std::vector<const char*> required;
  };
  std::vector<message_case> cases{
      {"task_request",
       sample_request().to_json(),
       [](const json& j) { parse_task_request(j); },
       {"request_id", "namespace", "task_name", "task_version"}},
      {"step_message",
       sample_step().to_json(),
       [](const json& j) { parse_step_message(j); },
       {"task_uuid", "step_uuid", "step_name", "handler", "namespace", "task_name", "attempt",
        "retry_limit", "timeout_seconds"}},
      {"step_result",
       sample_failure().to_json(),
       [](const json& j) { parse_step_result(j); },
       {"task_uuid", "step_uuid", "status", "error"}},
  };
  for (const auto& c : cases) {
    for (const char* field : c.required) {
      CAPTURE(field);
      auto j = c.sample;
      j.erase(field);
      auto e = error_of([&] { c.parse(j); });
      CHECK(e.reason() == wire_error::kind::invalid_field);
      CHECK(e.field() == std::string{c.name} + "." + field);
      CHECK(contains(e.what(), std::string{c.name} + "." + field + ": "));
    }
  }
}

TEST_CASE("a field of the wrong type is rejected naming the field and the value") {
  auto j = sample_request().to_json();
  j["priority"] = "high";
  CHECK(std::string{error_of([&] { parse_task_request(j); }).what()} ==
        R"(task_request.priority: expected integer in -1000..1000, got "high")");
  j["priority"] = 1001;
  CHECK(contains(error_of([&] { parse_task_request(j); }).what(), "got 1001"));
  j["priority"] = 2.5;
  CHECK(contains(error_of([&] { parse_task_request(j); }).what(), "task_request.priority"));
  auto ctx = sample_request().to_json();
  ctx["context"] = "x";
  CHECK(contains(error_of([&] { parse_task_request(ctx); }).what(),
                 R"(task_request.context: expected object, got "x")"));
  auto ns = sample_request().to_json();
  ns["namespace"] = "a; DROP TABLE x";
  CHECK(contains(error_of([&] { parse_task_request(ns); }).what(),
                 "task_request.namespace: expected identifier"));
  auto when = sample_request().to_json();
  when["requested_at"] = "yesterday";
  CHECK(contains(error_of([&] { parse_task_request(when); }).what(),
                 "task_request.requested_at: expected ISO 8601"));
  auto step = sample_step().to_json();
  step["attempt"] = 0;
  CHECK(contains(error_of([&] { parse_step_message(step); }).what(),
                 "step_message.attempt: expected integer in 1.."));
  step = sample_step().to_json();
  step["timeout_seconds"] = 0;
  CHECK(
      contains(error_of([&] { parse_step_message(step); }).what(), "step_message.timeout_seconds"));
  auto result = sample_failure().to_json();
  result["status"] = "done";
  CHECK(contains(error_of([&] { parse_step_result(result); }).what(),
                 R"(step_result.status: expected "success" or "failed", got "done")"));
  result = sample_failure().to_json();
  result["retry_after_seconds"] = -1;
  CHECK(contains(error_of([&] { parse_step_result(result); }).what(),
                 "step_result.retry_after_seconds: expected number >= 0"));
  result = sample_failure().to_json();
  result["execution_time_ms"] = "fast";
  CHECK(contains(error_of([&] { parse_step_result(result); }).what(),
                 "step_result.execution_time_ms"));
  result = sample_failure().to_json();
  result["worker"]["pid"] = "1";
  CHECK(contains(error_of([&] { parse_step_result(result); }).what(), "step_result.worker.pid"));
}

TEST_CASE("a failed result without a complete error object is rejected") {
  auto j = sample_failure().to_json();
  j.erase("error");
  auto e = error_of([&] { parse_step_result(j); });
  CHECK(e.field() == "step_result.error");
  CHECK(contains(e.what(), "required when status is \"failed\""));
  j["error"] = nullptr;
  CHECK(error_of([&] { parse_step_result(j); }).field() == "step_result.error");
  j["error"] = "boom";
  CHECK(error_of([&] { parse_step_result(j); }).field() == "step_result.error");
  j["error"] = {{"message", "boom"}};
  CHECK(error_of([&] { parse_step_result(j); }).field() == "step_result.error.retryable");
  j["error"] = {{"retryable", false}};
  CHECK(error_of([&] { parse_step_result(j); }).field() == "step_result.error.message");
}

TEST_CASE("a malformed UUID is rejected in every UUID field") {
  CHECK(is_valid_uuid(uuid_a));
  CHECK(is_valid_uuid(uuid_b));
  for (const char* bad :
       {"", "not-a-uuid", "0191a3c47e1f7c2a9b3d4e5f60718293", "0191a3c4-7e1f-7c2a-9b3d-4e5f6071829",
        "0191a3c4-7e1f-7c2a-9b3d-4e5f6071829g", "{0191a3c4-7e1f-7c2a-9b3d-4e5f6071829}"}) {
    CAPTURE(bad);
    CHECK_FALSE(is_valid_uuid(bad));
    auto req = sample_request().to_json();
    req["request_id"] = bad;
    CHECK(error_of([&] { parse_task_request(req); }).field() == "task_request.request_id");
    auto result = sample_failure().to_json();
    result["step_uuid"] = bad;
    CHECK(error_of([&] { parse_step_result(result); }).field() == "step_result.step_uuid");
  }
  auto step = sample_step().to_json();
  step["task_uuid"] = 12345;
  CHECK(contains(error_of([&] { parse_step_message(step); }).what(),
                 "step_message.task_uuid: expected UUID string"));
}

TEST_CASE("text that is not a JSON object is rejected with the byte offset") {
  auto e = error_of([] { parse_task_request_text(R"({"request_id": )"); });
  CHECK(e.reason() == wire_error::kind::invalid_json);
  CHECK(contains(e.what(), "task_request: invalid JSON at byte "));
  CHECK_FALSE(contains(e.what(), "[json.exception"));
  auto garbage = error_of([] { parse_step_result_text("{\"a\": tru}"); });
  CHECK(contains(garbage.what(), "step_result: invalid JSON at byte 10"));
  auto array = error_of([] { parse_step_message_text("[1, 2]"); });
  CHECK(array.reason() == wire_error::kind::invalid_json);
  CHECK(contains(array.what(), "step_message: expected a JSON object, got array"));
  CHECK(error_of([] { parse_step_message(json(7)); }).reason() == wire_error::kind::invalid_json);
}

TEST_CASE("a message over the size limit is rejected before it is parsed") {
  auto text = sample_request().to_json().dump();
  CHECK(parse_task_request_text(text, text.size()) == sample_request());
  auto e = error_of([&] { parse_task_request_text(text, text.size() - 1); });
  CHECK(e.reason() == wire_error::kind::too_large);
  CHECK(contains(e.what(), "task_request: message is " + std::to_string(text.size()) +
                               " bytes, over the limit of " + std::to_string(text.size() - 1)));
  std::string huge = "{\"pad\": \"" + std::string(default_max_message_bytes, 'x') + "\"}";
  CHECK(error_of([&] { parse_step_result_text(huge); }).reason() == wire_error::kind::too_large);
  // Over the limit but also malformed: size is checked first, so the reason is stable.
  CHECK(error_of([] { parse_step_message_text("{{{{", 3); }).reason() ==
        wire_error::kind::too_large);
}

TEST_CASE("an oversized queue message is refused with its id, queue, size and the limit key") {
  CHECK_FALSE(oversize_reason("orchestration_task_requests", 12, 1048576, 1048576));
  auto reason = oversize_reason("orchestration_task_requests", 12, 10485876, 1048576);
  REQUIRE(reason);
  CHECK(*reason == "message 12 on orchestration_task_requests is 10485876 bytes, over "
                   "queues.max_message_bytes (1048576)");
  CHECK(oversize_reason("orchestration_step_results", 3, 1025, 1024));
}

TEST_CASE("valid JSON the parser cannot hold is rejected as a wire error") {
  auto e = error_of([] { parse_task_request_text(R"({"request_id": 1e400})"); });
  CHECK(e.reason() == wire_error::kind::invalid_json);
  CHECK(contains(e.what(), "task_request: unsupported JSON"));
  CHECK_FALSE(contains(e.what(), "[json.exception"));
}
