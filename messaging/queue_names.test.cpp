// Queue names become SQL identifiers: both the C++ client and the SQL
// functions must refuse anything outside ^[a-z][a-z0-9_]{0,47}$.
#include "messaging/queue_client.hpp"
#include "messaging/queue_listener.hpp"
#include "messaging/queue_test_fixture.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace tasker::messaging;
using tasker::messaging::test::queue_fixture;
using json = nlohmann::json;

namespace {

const std::vector<std::string> bad_names{"a; DROP TABLE x",
                                         "x\"; DROP TABLE x; --",
                                         "it's",
                                         std::string(200, 'a'),
                                         std::string(49, 'a'),
                                         "",
                                         "Jobs",
                                         "1jobs",
                                         "jobs\n",
                                         "jobs-x",
                                         "jobs x",
                                         "_jobs"};

} // namespace

TEST_CASE_FIXTURE(queue_fixture, "the client rejects invalid queue names before any SQL runs") {
  pqxx::work tx{conn};
  std::vector<std::function<void(const std::string&)>> calls{
      [&](const std::string& q) { queue_client::create_queue(tx, q); },
      [&](const std::string& q) { queue_client::drop_queue(tx, q); },
      [&](const std::string& q) { queue_client::send(tx, q, json::object()); },
      [&](const std::string& q) { queue_client::send_batch(tx, q, {json::object()}); },
      [&](const std::string& q) { queue_client::send_batch(tx, q, {}); },
      [&](const std::string& q) { queue_client::read(tx, q, 30, 1); },
      [&](const std::string& q) { queue_client::remove(tx, q, {1}); },
      [&](const std::string& q) { queue_client::remove(tx, q, {}); },
      [&](const std::string& q) { queue_client::archive(tx, q, {1}, "r"); },
      [&](const std::string& q) {
        queue_client::archive(tx, q, {archive_entry{1, "r"}});
      },
      [&](const std::string& q) { queue_client::set_vt(tx, q, 1, 0); },
      [&](const std::string& q) { queue_client::metrics(tx, q); },
      [&](const std::string& q) { queue_client::list_archived(tx, q, 10); },
      [&](const std::string& q) { queue_client::redrive(tx, q, {1}); },
      [&](const std::string& q) { notify_channel(q); },
      [&](const std::string& q) {
        queue_listener{conn, q};
      },
  };
  for (const auto& name : bad_names) {
    for (std::size_t i = 0; i < calls.size(); ++i) {
      CAPTURE(name);
      CAPTURE(i);
      try {
        calls[i](name);
        FAIL_CHECK("accepted an invalid queue name");
      } catch (const std::invalid_argument& e) {
        CHECK(std::string{e.what()}.find("queue name") != std::string::npos);
      }
      // An SQL error would have aborted the transaction; it is still usable.
    }
  }
  CHECK(tx.exec1("SELECT 1")[0].as<int>() == 1);
}

TEST_CASE_FIXTURE(queue_fixture, "the SQL functions reject invalid queue names themselves") {
  in_tx([](auto& tx) { tx.exec0("CREATE TABLE x (id int)"); });
  const std::vector<std::string> calls{
      "SELECT tasker_mq.create_queue($1)",
      "SELECT tasker_mq.drop_queue($1)",
      "SELECT tasker_mq.send($1, '{}'::jsonb)",
      "SELECT * FROM tasker_mq.send_batch($1, ARRAY['{}'::jsonb])",
      "SELECT * FROM tasker_mq.read($1, 30, 1)",
      "SELECT * FROM tasker_mq.delete($1, ARRAY[1::bigint])",
      "SELECT tasker_mq.delete($1, 1::bigint)",
      "SELECT * FROM tasker_mq.archive($1, ARRAY[1::bigint], 'r'::text)",
      "SELECT * FROM tasker_mq.archive($1, ARRAY[1::bigint], ARRAY['r'])",
      "SELECT * FROM tasker_mq.set_vt($1, 1, 0)",
      "SELECT * FROM tasker_mq.set_vt($1, ARRAY[1::bigint], ARRAY[0])",
      "SELECT * FROM tasker_mq.metrics($1)",
      "SELECT * FROM tasker_mq.list_archived($1, 10)",
      "SELECT * FROM tasker_mq.redrive($1, ARRAY[1::bigint])",
      "SELECT tasker_mq.notify_channel($1)",
  };
  for (const auto& name : bad_names) {
    for (const auto& sql : calls) {
      CAPTURE(name);
      CAPTURE(sql);
      pqxx::work tx{conn};
      try {
        tx.exec_params(sql, name);
        FAIL_CHECK("SQL accepted an invalid queue name");
      } catch (const pqxx::sql_error& e) {
        CHECK(std::string{e.what()}.find("invalid queue name") != std::string::npos);
      }
    }
  }
  // NULL is no name either.
  {
    pqxx::work tx{conn};
    CHECK_THROWS_AS(tx.exec0("SELECT tasker_mq.send(NULL, '{}'::jsonb)"), pqxx::sql_error);
  }
  auto x_exists = in_tx([](auto& tx) {
    return tx.exec1("SELECT to_regclass('x') IS NOT NULL")[0].template as<bool>();
  });
  CHECK(x_exists);
}

TEST_CASE_FIXTURE(queue_fixture, "the longest valid queue name works end to end") {
  const std::string name(48, 'q');
  auto got = in_tx([&](auto& tx) {
    queue_client::create_queue(tx, name);
    auto id = queue_client::send(tx, name, json{{"ok", true}});
    auto read = queue_client::read(tx, name, 30, 1);
    queue_client::archive(tx, name, {id}, "done");
    return read;
  });
  REQUIRE(got.size() == 1);
  CHECK(got[0].message == json{{"ok", true}});
  CHECK(in_tx([&](auto& tx) { return queue_client::list_archived(tx, name, 10); }).size() == 1);
}
