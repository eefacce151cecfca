// Input the queues never hold: text PostgreSQL refuses to store as jsonb,
// and messages over the node's configured size limit.
#include "messaging/queue_client.hpp"
#include "tests/fault/input/bad_messages.hpp"
#include "tests/fault/input/fault_env.hpp"
#include "tests/integration/harness.hpp"

#include <doctest/doctest.h>

using namespace tasker;
using namespace tasker::fault;
using namespace tasker::testing;
using namespace std::chrono_literals;

namespace {


std::string deeply_nested(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') +
         std::string(static_cast<std::size_t>(depth), ']');
}

} // namespace

TEST_CASE("text that is not storable JSON is refused by PostgreSQL at send time and the queue "
          "keeps working") {
  cluster c;
  c.register_template(good_template_toml());
  auto& node = c.start_node("fault-refused", {"--with-worker", good_namespace});
  const std::vector<std::pair<std::string, std::string>> refused{
      {"plain text", "this is not json"},
      {"empty text", ""},
      {"truncated object", R"({"request_id": "0191a3c4-7e1f-7c2a-9b3d-4e5f60718293", )"},
      {"single quotes", "{'namespace': 'fin'}"},
      {"trailing garbage", R"({"namespace": "fin"} DROP TABLE tasks)"},
      {"NaN", R"({"priority": NaN})"},
      {"invalid UTF-8 bytes", "{\"namespace\": \"f\xff\xfein\"}"},
      {"overlong UTF-8 encoding", "{\"namespace\": \"\xc0\xaf\"}"},
      {"NUL escape", R"({"namespace": "fin\u0000"})"},
      {"lone surrogate escape", R"({"task_name": "\ud800"})"},
      {"nesting beyond the server's stack limit", deeply_nested(100000)},
  };
  auto conn = c.db().connect();
  for (const auto& [what, text] : refused) {
    CAPTURE(what);
    pqxx::work tx{conn};
    CHECK_THROWS_AS(tx.exec_params("SELECT tasker_mq.send($1, $2::jsonb)", requests_queue, text),
                    pqxx::sql_error);
  } // each transaction rolls back; the connection stays usable
  // The client library refuses to serialize a string that is not UTF-8.
  {
    pqxx::work tx{conn};
    CHECK_THROWS_AS(
        messaging::queue_client::send(tx, requests_queue, nlohmann::json{{"namespace", "f\xffin"}}),
        std::invalid_argument);
  }
  // Nothing reached the queue, nothing was archived, and the queue still delivers.
  CHECK(c.scalar("SELECT count(*) FROM tasker_mq.q_orchestration_task_requests") == 0);
  CHECK(c.scalar("SELECT count(*) FROM tasker_mq.a_orchestration_task_requests") == 0);
  c.send_raw_requests({good_request(900001)});
  INFO(c.logs());
  CHECK(c.wait_for(tasks_in("complete"), 1, 120s) == 1);
  CHECK(node.running());
  CHECK(crash_marker(node.output()).empty());
}

TEST_CASE("queues.max_message_bytes decides which task requests are refused by size") {
  cluster c;
  c.register_template(good_template_toml());
  constexpr std::size_t limit = 4 * 1024 * 1024;
  auto& node = c.start_node("fault-limit", {"--with-worker", good_namespace, "--set",
                                            "queues.max_message_bytes=" + std::to_string(limit)});
  // Two MiB: over the default limit, under the configured one, so it runs.
  auto fits = good_request(900002);
  fits["context"]["blob"] = std::string(2 * 1024 * 1024, 'f');
  // Over the configured limit by one byte: refused unparsed, naming size and
  // limit. The size is that of the text PostgreSQL stores (jsonb's form).
  auto stored_size = [&](const nlohmann::json& j) {
    auto conn = c.db().connect();
    pqxx::read_transaction tx{conn};
    return tx.exec_params1("SELECT octet_length($1::jsonb::text)", j.dump())[0].as<std::size_t>();
  };
  auto over = good_request(900003);
  over["context"]["blob"] = "";
  over["context"]["blob"] = std::string(limit + 1 - stored_size(over), 'o');
  REQUIRE(stored_size(over) == limit + 1);
  c.send_raw_requests({fits, over});
  INFO(c.logs());
  REQUIRE(c.wait_for(tasks_in("complete"), 1, 180s) == 1);
  REQUIRE(c.wait_for("SELECT count(*) FROM tasker_mq.a_orchestration_task_requests", 1, 60s) == 1);
  auto conn = c.db().connect();
  pqxx::read_transaction tx{conn};
  auto row = tx.exec1("SELECT msg_id, reason FROM tasker_mq.a_orchestration_task_requests");
  auto expected = "task_request: message " + row[0].as<std::string>() +
                  " on orchestration_task_requests is " + std::to_string(limit + 1) +
                  " bytes, over queues.max_message_bytes (" + std::to_string(limit) + ")";
  CHECK(row[1].as<std::string>() == expected);
  CHECK(tx.exec1("SELECT length(context->>'blob') FROM tasks")[0].as<std::int64_t>() ==
        2 * 1024 * 1024);
  CHECK(node.running());
  CHECK(crash_marker(node.output()).empty());
}
