#include "tests/fault/input/bad_messages.hpp"

#include <cstdio>
#include <functional>

namespace tasker::fault {

namespace {

using nlohmann::json;

constexpr std::uint32_t request_tag = 0xfa017001;
constexpr std::uint32_t bad_request_tag = 0xfa017002;
constexpr std::uint32_t task_tag = 0xfa017003;
constexpr std::uint32_t step_tag = 0xfa017004;

const std::string injection = "x'; DROP TABLE tasks; --";

json request_base(std::size_t n) {
  return json{{"request_id", fake_uuid(bad_request_tag, n)},
              {"namespace", good_namespace},
              {"task_name", good_task},
              {"task_version", "1.0.0"},
              {"context", {{"n", n}}}};
}

json result_base(std::size_t n) {
  return json{{"task_uuid", fake_uuid(task_tag, n)},
              {"step_uuid", fake_uuid(step_tag, n)},
              {"status", "success"},
              {"results", {{"n", n}}}};
}

json without(json j, const char* key) {
  j.erase(key);
  return j;
}

json with(json j, const char* key, json value) {
  j[key] = std::move(value);
  return j;
}

json nested(int depth, json inner) {
  for (int i = 0; i < depth; ++i)
    inner = json::array({std::move(inner)});
  return inner;
}

using maker = std::function<bad_message(std::size_t)>;

bad_message bad(const json& body, std::string expect, std::string category) {
  return bad_message{body.dump(), std::move(expect), std::move(category)};
}

const std::string tr = "task_request";
const std::string sr = "step_result";

const std::vector<maker>& request_makers() {
  static const std::vector<maker> all{
      // -- not an object -------------------------------------------------------
      [](std::size_t n) {
        return bad(json("hello " + std::to_string(n)), tr + ": expected a JSON object, got string",
                   "string body");
      },
      [](std::size_t n) {
        return bad(json::array({n, "x"}), tr + ": expected a JSON object, got array", "array body");
      },
      [](std::size_t n) {
        return bad(json(static_cast<double>(n) + 0.5), tr + ": expected a JSON object, got number",
                   "number body");
      },
      [](std::size_t) {
        return bad(json(true), tr + ": expected a JSON object, got boolean", "boolean body");
      },
      [](std::size_t) {
        return bad(json(nullptr), tr + ": expected a JSON object, got null", "null body");
      },
      [](std::size_t n) {
        // A JSON string whose text is broken JSON: decoded once it is only a string.
        auto text = request_base(n).dump();
        return bad(json(text.substr(0, text.size() / 2)),
                   tr + ": expected a JSON object, got string", "string of broken JSON");
      },
      [](std::size_t n) {
        // Double-encoded: a string holding a valid request is still not a request.
        return bad(json(request_base(n).dump()), tr + ": expected a JSON object, got string",
                   "double-encoded request");
      },
      // -- missing fields ------------------------------------------------------
      [](std::size_t n) {
        return bad(without(request_base(n), "request_id"),
                   tr + ".request_id: required field is missing", "missing request_id");
      },
      [](std::size_t n) {
        return bad(without(request_base(n), "namespace"),
                   tr + ".namespace: required field is missing", "missing namespace");
      },
      [](std::size_t n) {
        return bad(without(request_base(n), "task_name"),
                   tr + ".task_name: required field is missing", "missing task_name");
      },
      [](std::size_t n) {
        return bad(without(request_base(n), "task_version"),
                   tr + ".task_version: required field is missing", "missing task_version");
      },
      [](std::size_t) {
        return bad(json::object(), tr + ".request_id: required field is missing", "empty object");
      },
      // -- wrong types and values ----------------------------------------------
      [](std::size_t n) {
        return bad(with(request_base(n), "request_id", n), tr + ".request_id: expected UUID string",
                   "numeric request_id");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "request_id", "not-a-uuid-" + std::to_string(n)),
                   tr + ".request_id: expected UUID string", "malformed request_id");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "namespace", n), tr + ".namespace: expected identifier",
                   "numeric namespace");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "namespace", json{{"name", good_namespace}}),
                   tr + ".namespace: expected identifier", "object namespace");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "namespace", nullptr),
                   tr + ".namespace: expected identifier", "null namespace");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "task_name", json::array({good_task})),
                   tr + ".task_name: expected non-empty string", "array task_name");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "task_version", ""),
                   tr + ".task_version: expected non-empty string", "empty task_version");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "priority", "high"),
                   tr + ".priority: expected integer in -1000..1000", "string priority");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "priority", 5000 + static_cast<int>(n)),
                   tr + ".priority: expected integer in -1000..1000", "priority out of range");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "priority", 1.5),
                   tr + ".priority: expected integer in -1000..1000", "fractional priority");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "context", "{\"n\": 1}"), tr + ".context: expected object",
                   "string context");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "context", json::array({1, 2, 3})),
                   tr + ".context: expected object", "array context");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "initiator", 42), tr + ".initiator: expected string",
                   "numeric initiator");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "requested_at", "yesterday"),
                   tr + ".requested_at: expected ISO 8601", "bad requested_at");
      },
      // -- unknown targets -----------------------------------------------------
      [](std::size_t n) {
        auto ns = "nope_" + std::to_string(n);
        return bad(with(request_base(n), "namespace", ns), "unknown namespace \"" + ns + "\"",
                   "unknown namespace");
      },
      [](std::size_t n) {
        auto name = "missing_" + std::to_string(n);
        return bad(with(request_base(n), "task_name", name),
                   std::string{"unknown task template "} + good_namespace + "/" + name + "@1.0.0",
                   "unknown template");
      },
      [](std::size_t n) {
        auto version = "9." + std::to_string(n) + ".0";
        return bad(with(request_base(n), "task_version", version),
                   std::string{"unknown task template "} + good_namespace + "/" + good_task + "@" +
                       version,
                   "unknown version");
      },
      // -- SQL injection -------------------------------------------------------
      [](std::size_t n) {
        return bad(with(request_base(n), "namespace", injection),
                   tr + ".namespace: expected identifier", "injection in namespace");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "task_name", injection),
                   std::string{"unknown task template "} + good_namespace + "/" + injection +
                       "@1.0.0",
                   "injection in task_name");
      },
      [](std::size_t n) {
        auto version = "1.0.0'); DELETE FROM tasks; --" + std::to_string(n);
        return bad(with(request_base(n), "task_version", version),
                   std::string{"unknown task template "} + good_namespace + "/" + good_task + "@" +
                       version,
                   "injection in task_version");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "request_id", "'; TRUNCATE tasks; --"),
                   tr + ".request_id: expected UUID string", "injection in request_id");
      },
      // -- Unicode and escape tricks (valid JSON, decoded by the parser) -------
      [](std::size_t n) {
        // U+0131 dotless i: looks like "fin" to a person, not to the identifier rule.
        return bad(with(request_base(n), "namespace", "f\u0131n"),
                   tr + ".namespace: expected identifier", "look-alike namespace");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "namespace", "fin\u200b"),
                   tr + ".namespace: expected identifier", "zero-width namespace");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "namespace", "FIN"),
                   tr + ".namespace: expected identifier", "uppercase namespace");
      },
      [](std::size_t n) {
        return bad(with(request_base(n), "namespace", "fin\n"),
                   tr + ".namespace: expected identifier", "namespace with newline");
      },
      [](std::size_t n) {
        auto name = std::string{good_task} + "\u202e\"\\" + std::to_string(n);
        return bad(with(request_base(n), "task_name", name),
                   std::string{"unknown task template "} + good_namespace + "/" + name,
                   "escapes in task_name");
      },
      // -- values the parser cannot hold, deep nesting -------------------------
      [](std::size_t n) {
        // jsonb keeps 1e400 as a 401-digit numeric; no double can hold it (nor
        // can nlohmann build it, hence the text).
        return bad_message{R"({"request_id": ")" + fake_uuid(bad_request_tag, n) +
                               R"(", "priority": 1e400})",
                           tr + ": unsupported JSON", "number beyond double range"};
      },
      [](std::size_t n) {
        return bad(with(without(request_base(n), "request_id"), "context",
                        {{"deep", nested(3000, json(n))}}),
                   tr + ".request_id: required field is missing", "deeply nested context");
      },
  };
  return all;
}

const std::vector<maker>& result_makers() {
  static const std::vector<maker> all{
      [](std::size_t n) {
        return bad(json("done " + std::to_string(n)), sr + ": expected a JSON object, got string",
                   "string body");
      },
      [](std::size_t n) {
        return bad(json::array({result_base(n)}), sr + ": expected a JSON object, got array",
                   "array body");
      },
      [](std::size_t n) {
        return bad(json(n), sr + ": expected a JSON object, got number", "number body");
      },
      [](std::size_t n) {
        auto text = result_base(n).dump();
        return bad(json(text.substr(0, text.size() - 3)),
                   sr + ": expected a JSON object, got string", "string of broken JSON");
      },
      [](std::size_t n) {
        return bad(without(result_base(n), "task_uuid"),
                   sr + ".task_uuid: required field is missing", "missing task_uuid");
      },
      [](std::size_t n) {
        return bad(without(result_base(n), "step_uuid"),
                   sr + ".step_uuid: required field is missing", "missing step_uuid");
      },
      [](std::size_t n) {
        return bad(without(result_base(n), "status"), sr + ".status: required field is missing",
                   "missing status");
      },
      [](std::size_t n) {
        return bad(with(result_base(n), "status", "done"),
                   sr + ".status: expected \"success\" or \"failed\", got \"done\"",
                   "unknown status");
      },
      [](std::size_t n) {
        return bad(with(result_base(n), "status", 1), sr + ".status: expected non-empty string",
                   "numeric status");
      },
      [](std::size_t n) {
        return bad(with(result_base(n), "status", "failed"),
                   sr + ".error: required when status is \"failed\"", "failure without error");
      },
      [](std::size_t n) {
        return bad(with(with(result_base(n), "status", "failed"), "error", "boom"),
                   sr + ".error: expected object", "string error");
      },
      [](std::size_t n) {
        return bad(with(with(result_base(n), "status", "failed"), "error",
                        {{"message", "boom"}, {"retryable", "yes"}}),
                   sr + ".error.retryable: expected boolean", "string retryable");
      },
      [](std::size_t n) {
        return bad(with(result_base(n), "execution_time_ms", -5),
                   sr + ".execution_time_ms: expected number >= 0", "negative execution time");
      },
      [](std::size_t n) {
        return bad(with(result_base(n), "attempt", 0), sr + ".attempt: expected integer in 1..",
                   "attempt zero");
      },
      [](std::size_t n) {
        return bad(with(result_base(n), "retry_after_seconds", "soon"),
                   sr + ".retry_after_seconds: expected number >= 0", "string retry_after_seconds");
      },
      [](std::size_t n) {
        return bad(with(result_base(n), "worker", {{"pid", -1}}),
                   sr + ".worker.pid: expected integer in 0..", "negative worker pid");
      },
      [](std::size_t n) {
        return bad(with(result_base(n), "task_uuid", injection),
                   sr + ".task_uuid: expected UUID string", "injection in task_uuid");
      },
      [](std::size_t n) {
        auto body = result_base(n);
        return bad(body,
                   "step_result: unknown step " + body["step_uuid"].get<std::string>() +
                       " of task " + body["task_uuid"].get<std::string>(),
                   "unknown step and task");
      },
  };
  return all;
}

} // namespace

std::string fake_uuid(std::uint32_t tag, std::uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012llx", tag,
                static_cast<unsigned long long>(n));
  return buf;
}

std::string good_template_toml() {
  return std::string{"namespace = \""} + good_namespace + "\"\nname = \"" + good_task +
         "\"\nversion = \"1.0.0\"\n[[steps]]\nname = \"only\"\nhandler = \"noop\"\n";
}

json good_request(std::uint64_t n) {
  json j = request_base(0);
  j["request_id"] = fake_uuid(request_tag, n);
  // Hostile but legal content must travel untouched.
  j["context"] = {{"n", n}, {"note", injection}, {"text", "caf\u00e9 \u202e \\\" \U0001F600"}};
  j["initiator"] = injection;
  j["priority"] = (n % 2 == 0) ? -1000 : 1000;
  j["unknown_future_field"] = {{"ignored", true}};
  j["reason"] = nullptr; // null counts as absent for an optional field
  return j;
}

bad_message bad_request(std::size_t n) {
  const auto& all = request_makers();
  return all[n % all.size()](n);
}

bad_message bad_result(std::size_t n) {
  const auto& all = result_makers();
  return all[n % all.size()](n);
}

std::size_t request_categories() {
  return request_makers().size();
}

std::size_t result_categories() {
  return result_makers().size();
}

bad_message oversized_request(std::size_t bytes) {
  auto body = request_base(0);
  body["request_id"] = fake_uuid(bad_request_tag, 0xb16);
  body["context"] = {{"blob", std::string(bytes, 'x')}};
  return bad(body, "bytes, over queues.max_message_bytes (1048576)", "10 MB request");
}

bad_message oversized_result(std::size_t bytes) {
  auto body = result_base(0xb16);
  body["results"] = {{"blob", std::string(bytes, 'y')}};
  return bad(body, "bytes, over queues.max_message_bytes (1048576)", "10 MB result");
}

bad_message result_for(const std::string& task_uuid, const std::string& step_uuid) {
  json body{{"task_uuid", task_uuid},
            {"step_uuid", step_uuid},
            {"status", "failed"},
            {"error", {{"message", "from nowhere"}, {"retryable", false}}}};
  return bad(body, "step_result: unknown step " + step_uuid + " of task " + task_uuid,
             "real and unknown ids mixed");
}

} // namespace tasker::fault
