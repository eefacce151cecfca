// Messages reach a queue's table through tasker_mq.insert_messages, which
// holds one static INSERT per queue (0041_static_queue_inserts.sql) and falls
// back to a dynamic one for a queue it does not know.
#include "messaging/queue_client.hpp"
#include "messaging/queue_test_fixture.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <exception>
#include <string>
#include <thread>
#include <unistd.h>

using namespace tasker::messaging;
using tasker::messaging::test::queue_fixture;
using json = nlohmann::json;

namespace {

std::string router_definition(pqxx::transaction_base& tx) {
  return tx.exec1("SELECT pg_get_functiondef('tasker_mq.insert_messages'::regproc)")[0]
    .as<std::string>();
}

bool router_names(pqxx::transaction_base& tx, const std::string& table) {
  return router_definition(tx).find("INSERT INTO tasker_mq." + table + " ") != std::string::npos;
}

} // namespace

TEST_CASE_FIXTURE(queue_fixture, "messages go into the queue named, in order, with their headers") {
  in_tx([](auto& tx) { queue_client::create_queue(tx, "other"); });
  pqxx::work tx{conn};
  auto ids = tx.exec("SELECT i FROM tasker_mq.insert_messages('other', 0,"
                     " ARRAY['{\"n\": 1}', '{\"n\": 2}', '{\"n\": 3}']::jsonb[],"
                     " ARRAY['{\"h\": 1}', NULL, '{\"h\": 3}']::jsonb[]) i");
  REQUIRE(ids.size() == 3);
  CHECK(ids[0][0].as<long>() < ids[1][0].as<long>());
  CHECK(ids[1][0].as<long>() < ids[2][0].as<long>());
  auto rows = tx.exec("SELECT message->>'n', coalesce(headers->>'h', '-'), vt <= clock_timestamp()"
                      " FROM tasker_mq.q_other ORDER BY msg_id");
  REQUIRE(rows.size() == 3);
  CHECK(rows[0][0].as<std::string>() == "1");
  CHECK(rows[0][1].as<std::string>() == "1");
  CHECK(rows[1][1].as<std::string>() == "-");
  CHECK(rows[2][0].as<std::string>() == "3");
  CHECK(rows[2][1].as<std::string>() == "3");
  CHECK(rows[0][2].as<bool>());
  CHECK(tx.exec1("SELECT count(*) FROM tasker_mq.q_jobs")[0].as<int>() == 0);
  // A delay makes the messages invisible for that long; no headers is fine.
  tx.exec("SELECT tasker_mq.insert_messages('other', 3600, ARRAY['{}']::jsonb[], NULL)");
  CHECK(tx.exec1("SELECT count(*) FROM tasker_mq.q_other"
                 " WHERE vt > clock_timestamp() + interval '3500 seconds'")[0]
          .as<int>() == 1);
}

TEST_CASE_FIXTURE(queue_fixture, "the insert function names every queue and forgets a dropped one") {
  pqxx::work tx{conn};
  CHECK(router_names(tx, "q_jobs"));
  CHECK_FALSE(router_names(tx, "q_other"));
  queue_client::create_queue(tx, "other");
  CHECK(router_names(tx, "q_other"));
  CHECK(router_names(tx, "q_jobs"));
  queue_client::drop_queue(tx, "other");
  CHECK_FALSE(router_names(tx, "q_other"));
  CHECK(router_names(tx, "q_jobs"));
}

TEST_CASE_FIXTURE(queue_fixture, "a queue the insert function does not know is still sent to") {
  pqxx::work tx{conn};
  queue_client::create_queue(tx, "late");
  // As if another transaction had regenerated the function without it.
  tx.exec0("DELETE FROM tasker_mq.meta WHERE queue_name = 'late'");
  tx.exec("SELECT tasker_mq.rebuild_insert_messages()");
  tx.exec0("INSERT INTO tasker_mq.meta (queue_name) VALUES ('late')");
  REQUIRE_FALSE(router_names(tx, "q_late"));
  auto id = queue_client::send(tx, "late", json{{"n", 7}});
  auto ids = queue_client::send_batch(tx, "late", {json{{"n", 8}}, json{{"n", 9}}});
  REQUIRE(ids.size() == 2);
  CHECK(id < ids[0]);
  CHECK(ids[0] < ids[1]);
  CHECK(tx.exec1("SELECT string_agg(message->>'n', ',' ORDER BY msg_id) FROM tasker_mq.q_late")[0]
          .as<std::string>() == "7,8,9");
}

TEST_CASE_FIXTURE(queue_fixture, "queues created at the same time are both named by the insert function") {
  auto other = db.connect();
  pqxx::work first{conn};
  queue_client::create_queue(first, "first");
  std::exception_ptr failure;
  std::thread second{[&] {
    try {
      pqxx::work tx{other};
      queue_client::create_queue(tx, "second"); // waits for the first to commit
      tx.commit();
    } catch (...) {
      failure = std::current_exception();
    }
  }};
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  first.commit();
  second.join();
  REQUIRE_FALSE(failure);
  pqxx::work tx{conn};
  CHECK(router_names(tx, "q_first"));
  CHECK(router_names(tx, "q_second"));
  CHECK(router_names(tx, "q_jobs"));
}

TEST_CASE_FIXTURE(queue_fixture,
                  "a role that may not replace the insert function still creates and uses queues") {
  auto role = "tasker_t_role_" + std::to_string(::getpid());
  in_tx([&](auto& tx) {
    tx.exec0("CREATE ROLE " + tx.quote_name(role));
    tx.exec0("GRANT USAGE, CREATE ON SCHEMA tasker_mq TO " + tx.quote_name(role));
    tx.exec0("GRANT SELECT, INSERT, DELETE ON tasker_mq.meta TO " + tx.quote_name(role));
  });
  {
    pqxx::work tx{conn};
    tx.exec0("SET LOCAL ROLE " + tx.quote_name(role));
    queue_client::create_queue(tx, "theirs");
    CHECK_FALSE(router_names(tx, "q_theirs"));
    queue_client::send(tx, "theirs", json{{"n", 1}});
    CHECK(tx.exec1("SELECT count(*) FROM tasker_mq.q_theirs")[0].as<int>() == 1);
    tx.exec0("RESET ROLE");
    queue_client::drop_queue(tx, "theirs");
    tx.commit();
  }
  in_tx([&](auto& tx) {
    tx.exec0("DROP OWNED BY " + tx.quote_name(role));
    tx.exec0("DROP ROLE " + tx.quote_name(role));
  });
}

TEST_CASE_FIXTURE(queue_fixture, "the dispatching functions send through the insert function") {
  pqxx::work tx{conn};
  for (const char* fn : {"tasker_dispatch", "tasker_apply_results_and_dispatch",
                         "tasker_create_start_and_dispatch", "send", "send_batch"}) {
    CAPTURE(fn);
    auto src = tx.exec_params1("SELECT string_agg(p.prosrc, '') FROM pg_proc p"
                               " WHERE p.proname = $1",
                               std::string{fn})[0]
                 .as<std::string>();
    CHECK(src.find("tasker_mq.insert_messages(") != std::string::npos);
    CHECK(src.find("INSERT INTO tasker_mq.") == std::string::npos);
  }
}
