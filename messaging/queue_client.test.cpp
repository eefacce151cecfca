#include "messaging/queue_client.hpp"
#include "messaging/queue_test_fixture.hpp"
#include "resources/migrate.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace tasker::messaging;
using tasker::messaging::test::queue_fixture;
using json = nlohmann::json;
using ids = std::vector<std::int64_t>;

namespace {

// Visibility tests use 1-second timeouts; this is just past one.
void sleep_past_one_second() {
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
}

std::vector<queue_message> read(queue_fixture& f, int vt_seconds, int qty) {
  return f.in_tx([&](auto& tx) { return queue_client::read(tx, "jobs", vt_seconds, qty); });
}

} // namespace

TEST_CASE_FIXTURE(queue_fixture, "a sent message is read once, then deleted for good") {
  json body{{"step", "charge"}, {"amount", 42}, {"tags", {"a", "b"}}};
  auto id = in_tx([&](auto& tx) { return queue_client::send(tx, "jobs", body); });

  auto got = read(*this, 30, 10);
  REQUIRE(got.size() == 1);
  CHECK(got[0].msg_id == id);
  CHECK(got[0].read_ct == 1);
  CHECK(got[0].message == body);
  CHECK(got[0].parsed());
  CHECK(got[0].headers.is_null());
  CHECK_FALSE(got[0].enqueued_at.empty());
  CHECK_FALSE(got[0].vt.empty());

  CHECK(read(*this, 30, 10).empty()); // hidden by its visibility timeout

  CHECK(in_tx([&](auto& tx) { return queue_client::remove(tx, "jobs", {id}); }) == ids{id});
  CHECK(in_tx([&](auto& tx) { return queue_client::remove(tx, "jobs", {id}); }).empty());
  CHECK(in_tx([&](auto& tx) { return queue_client::metrics(tx, "jobs"); }).queue_length == 0);
}

TEST_CASE_FIXTURE(queue_fixture,
                  "a message read but not deleted reappears after its visibility timeout") {
  auto id = in_tx([](auto& tx) { return queue_client::send(tx, "jobs", json{{"n", 1}}); });
  auto first = read(*this, 1, 10);
  REQUIRE(first.size() == 1);
  CHECK(first[0].read_ct == 1);
  CHECK(read(*this, 1, 10).empty());

  sleep_past_one_second();
  auto again = read(*this, 1, 10);
  REQUIRE(again.size() == 1);
  CHECK(again[0].msg_id == id);
  CHECK(again[0].read_ct == 2);
  CHECK(again[0].message == json{{"n", 1}});
}

TEST_CASE_FIXTURE(queue_fixture, "send_batch returns one id per message, in message order") {
  std::vector<json> bodies;
  for (int i = 0; i < 25; ++i)
    bodies.push_back(json{{"i", i}, {"text", "quote \" backslash \\ brace {,}"}});
  auto sent = in_tx([&](auto& tx) { return queue_client::send_batch(tx, "jobs", bodies); });
  REQUIRE(sent.size() == bodies.size());
  for (std::size_t i = 1; i < sent.size(); ++i)
    CHECK(sent[i - 1] < sent[i]);

  auto got = read(*this, 30, 100);
  REQUIRE(got.size() == bodies.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].msg_id == sent[i]);
    CHECK(got[i].message == bodies[i]);
  }
  CHECK(in_tx([](auto& tx) { return queue_client::send_batch(tx, "jobs", {}); }).empty());
}

TEST_CASE_FIXTURE(queue_fixture, "read takes at most qty messages, oldest first") {
  auto sent = in_tx([](auto& tx) {
    return queue_client::send_batch(tx, "jobs", {json{{"i", 0}}, json{{"i", 1}}, json{{"i", 2}}});
  });
  auto first = read(*this, 30, 2);
  REQUIRE(first.size() == 2);
  CHECK(first[0].msg_id == sent[0]);
  CHECK(first[1].msg_id == sent[1]);
  auto rest = read(*this, 30, 2);
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].msg_id == sent[2]);
  CHECK(read(*this, 30, 0).empty());
}

TEST_CASE_FIXTURE(queue_fixture, "a delayed message stays invisible until its delay has passed") {
  auto late = in_tx([](auto& tx) {
    return queue_client::send(tx, "jobs", json{{"late", true}}, 1);
  });
  auto now = in_tx([](auto& tx) { return queue_client::send(tx, "jobs", json{{"late", false}}); });
  auto got = read(*this, 30, 10);
  REQUIRE(got.size() == 1);
  CHECK(got[0].msg_id == now);

  sleep_past_one_second();
  got = read(*this, 30, 10);
  REQUIRE(got.size() == 1);
  CHECK(got[0].msg_id == late);
  CHECK(got[0].read_ct == 1);
}

TEST_CASE_FIXTURE(queue_fixture, "set_vt makes an in-flight message readable again at once") {
  auto id = in_tx([](auto& tx) { return queue_client::send(tx, "jobs", json::object()); });
  REQUIRE(read(*this, 300, 1).size() == 1);
  CHECK(read(*this, 300, 1).empty());
  CHECK(in_tx([&](auto& tx) { return queue_client::set_vt(tx, "jobs", id, 0); }));
  auto got = read(*this, 300, 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].read_ct == 2);
  CHECK_FALSE(in_tx([&](auto& tx) { return queue_client::set_vt(tx, "jobs", id + 1000, 0); }));
}

TEST_CASE_FIXTURE(queue_fixture, "set_vt on a batch sets each message's own timeout in one call") {
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(in_tx([](auto& tx) { return queue_client::send(tx, "jobs", json::object()); }));
  REQUIRE(read(*this, 300, 3).size() == 3);
  // The first and last become readable at once, the middle one stays hidden.
  auto moved = in_tx([&](auto& tx) {
    return queue_client::set_vt(tx, "jobs", {ids[0], ids[1], ids[2], ids[2] + 1000},
                                std::vector<int>{0, 600, 0, 0});
  });
  CHECK(moved.size() == 3); // the unknown id is not in the queue
  auto got = read(*this, 300, 10);
  REQUIRE(got.size() == 2);
  CHECK(got[0].msg_id == ids[0]);
  CHECK(got[1].msg_id == ids[2]);
  CHECK(in_tx([&](auto& tx) {
          return queue_client::set_vt(tx, "jobs", std::vector<std::int64_t>{},
                                      std::vector<int>{});
        }).empty());
  pqxx::work tx{conn};
  CHECK_THROWS_AS(queue_client::set_vt(tx, "jobs", {ids[0]}, std::vector<int>{-1}),
                  std::invalid_argument);
  CHECK_THROWS_AS(queue_client::set_vt(tx, "jobs", {ids[0], ids[1]}, std::vector<int>{1}),
                  std::invalid_argument);
}

TEST_CASE_FIXTURE(queue_fixture, "read returns a body nlohmann cannot parse instead of throwing") {
  // Legal jsonb, but beyond double range: a producer in another language could send it.
  in_tx([](auto& tx) {
    tx.exec1("SELECT tasker_mq.send('jobs', '{\"x\": 1e400}'::jsonb, 0, '{\"trace\": \"t1\"}')");
  });
  auto good = in_tx([](auto& tx) { return queue_client::send(tx, "jobs", json{{"ok", 1}}); });
  std::vector<queue_message> got;
  CHECK_NOTHROW(got = read(*this, 30, 10));
  REQUIRE(got.size() == 2);
  CHECK_FALSE(got[0].parsed());
  CHECK(got[0].raw_message.find("\"x\"") != std::string::npos);
  CHECK(got[0].headers == json{{"trace", "t1"}});
  CHECK(got[1].msg_id == good);
  CHECK(got[1].parsed());
  CHECK(got[1].raw_message.empty());
}

TEST_CASE_FIXTURE(queue_fixture, "a send belongs to the caller's transaction") {
  {
    pqxx::work tx{conn};
    tx.exec0("CREATE TABLE side_effect (id int)");
    tx.exec0("INSERT INTO side_effect VALUES (1)");
    queue_client::send(tx, "jobs", json{{"rolled", "back"}});
    tx.abort();
  }
  CHECK(read(*this, 30, 10).empty());
  {
    pqxx::work tx{conn};
    tx.exec0("CREATE TABLE side_effect (id int)");
    tx.exec0("INSERT INTO side_effect VALUES (1)");
    queue_client::send(tx, "jobs", json{{"kept", true}});
    tx.commit();
  }
  CHECK(read(*this, 30, 10).size() == 1);
  CHECK(in_tx([](auto& tx) {
          return tx.exec1("SELECT count(*) FROM side_effect")[0].template as<int>();
        }) == 1);
}

TEST_CASE_FIXTURE(queue_fixture, "a queue that does not exist is reported by name") {
  pqxx::work tx{conn};
  try {
    queue_client::send(tx, "missing_queue", json::object());
    FAIL("expected pqxx::sql_error");
  } catch (const pqxx::sql_error& e) {
    std::string what = e.what();
    CHECK(what.find("missing_queue") != std::string::npos);
    CHECK(what.find("does not exist") != std::string::npos);
  }
}

TEST_CASE_FIXTURE(queue_fixture, "reading, deleting and sending to a missing queue name it") {
  for (int op = 0; op < 3; ++op) {
    pqxx::work tx{conn};
    try {
      if (op == 0)
        queue_client::read(tx, "missing_queue", 30, 10);
      else if (op == 1)
        queue_client::remove(tx, "missing_queue", {1});
      else
        queue_client::send_batch(tx, "missing_queue", {json::object()});
      FAIL("expected pqxx::sql_error");
    } catch (const pqxx::undefined_table& e) {
      std::string what = e.what();
      CHECK(what.find("queue 'missing_queue' does not exist") != std::string::npos);
    }
  }
}

TEST_CASE_FIXTURE(queue_fixture, "a queue dropped and created again works on the same connection") {
  in_tx([](auto& tx) { queue_client::send_batch(tx, "jobs", {json{{"n", 1}}}); });
  REQUIRE(read(*this, 30, 10).size() == 1);
  in_tx([](auto& tx) {
    queue_client::drop_queue(tx, "jobs");
    queue_client::create_queue(tx, "jobs");
  });
  CHECK(read(*this, 30, 10).empty());
  auto sent = in_tx([](auto& tx) {
    return queue_client::send_batch(tx, "jobs", {json{{"n", 2}}, json{{"n", 3}}});
  });
  REQUIRE(sent.size() == 2);
  auto got = read(*this, 30, 10);
  REQUIRE(got.size() == 2);
  CHECK(got[0].message == json{{"n", 2}});
  CHECK(in_tx([&](auto& tx) { return queue_client::remove(tx, "jobs", sent); }) == sent);
}

TEST_CASE_FIXTURE(queue_fixture, "queues with long names sharing a prefix stay apart on one "
                                 "connection") {
  // 48 characters, the longest queue name; the two differ in the last one.
  const std::string a(47, 'q'), b = a + "b";
  const std::string a2 = a + "a";
  in_tx([&](auto& tx) {
    queue_client::create_queue(tx, a2);
    queue_client::create_queue(tx, b);
    queue_client::send_batch(tx, a2, {json{{"q", "a"}}});
    queue_client::send_batch(tx, b, {json{{"q", "b"}}, json{{"q", "b"}}});
  });
  auto got_a = in_tx([&](auto& tx) { return queue_client::read(tx, a2, 30, 10); });
  auto got_b = in_tx([&](auto& tx) { return queue_client::read(tx, b, 30, 10); });
  REQUIRE(got_a.size() == 1);
  CHECK(got_a[0].message == json{{"q", "a"}});
  CHECK(got_b.size() == 2);
}

TEST_CASE_FIXTURE(queue_fixture, "send_batch_and_remove sends to one queue and deletes from another "
                                 "in one statement, also outside a transaction block") {
  // 48-character names: the statement name stays within PostgreSQL's 63 bytes.
  const std::string results(48, 'r');
  in_tx([&](auto& tx) { queue_client::create_queue(tx, results); });
  auto consumed = in_tx([](auto& tx) {
    return queue_client::send_batch(tx, "jobs", {json{{"n", 1}}, json{{"n", 2}}, json{{"n", 3}}});
  });
  auto post = [&](const std::string& to, const std::vector<json>& messages, const ids& remove) {
    pqxx::nontransaction auto_commit{conn};
    return queue_client::send_batch_and_remove(auto_commit, to, messages, "jobs", remove);
  };
  auto sent = post(results, {json{{"r", 1}}, json{{"r", 2}}}, {consumed[0], consumed[1]});
  REQUIRE(sent.size() == 2);
  CHECK(sent[0] < sent[1]);
  auto left = read(*this, 30, 10);
  REQUIRE(left.size() == 1);
  CHECK(left[0].msg_id == consumed[2]);
  auto got = in_tx([&](auto& tx) { return queue_client::read(tx, results, 30, 10); });
  REQUIRE(got.size() == 2);
  CHECK(got[0].message == json{{"r", 1}});
  CHECK(got[1].message == json{{"r", 2}});

  // Both halves or neither: a missing queue fails the statement, named.
  try {
    post("nowhere", {json{{"r", 3}}}, {consumed[2]});
    FAIL("expected an error");
  } catch (const pqxx::undefined_table& e) {
    CHECK(std::string{e.what()}.find("'nowhere' or 'jobs' does not exist") != std::string::npos);
  }
  auto still = in_tx([](auto& tx) {
    return tx.exec1("SELECT count(*) FROM tasker_mq.q_jobs")[0].template as<int>();
  });
  CHECK(still == 1); // consumed[2] was not deleted
}

TEST_CASE_FIXTURE(queue_fixture, "bodies serialized by the caller travel as written, and text "
                                 "that is not JSON fails the statement") {
  const std::vector<json> values{json{{"n", 1}, {"s", "quote \" backslash \\"}}, json{{"n", 2}}};
  std::vector<std::string> bodies;
  for (const auto& v : values)
    bodies.push_back(v.dump());
  auto sent =
    in_tx([&](auto& tx) { return queue_client::send_serialized_batch(tx, "jobs", bodies); });
  REQUIRE(sent.size() == 2);
  CHECK(in_tx([](auto& tx) {
          return queue_client::send_serialized_batch(tx, "jobs", {});
        }).empty());
  in_tx([](auto& tx) { queue_client::create_queue(tx, "done"); });
  auto moved = [&] {
    pqxx::nontransaction auto_commit{conn};
    return queue_client::send_serialized_batch_and_remove(auto_commit, "done",
                                                          {json{{"r", 1}}.dump()}, "jobs",
                                                          {sent[0]});
  }();
  CHECK(moved.size() == 1);
  auto left = read(*this, 30, 10);
  REQUIRE(left.size() == 1);
  CHECK(left[0].msg_id == sent[1]);
  CHECK(left[0].message == values[1]);
  auto done = in_tx([](auto& tx) { return queue_client::read(tx, "done", 30, 10); });
  REQUIRE(done.size() == 1);
  CHECK(done[0].message == json{{"r", 1}});

  // PostgreSQL parses each body: one that is not JSON refuses the whole batch.
  {
    pqxx::nontransaction auto_commit{conn};
    CHECK_THROWS_AS(queue_client::send_serialized_batch(auto_commit, "jobs",
                                                        {json{{"ok", 1}}.dump(), "{not json"}),
                    pqxx::data_exception);
  }
  auto count = in_tx([](auto& tx) {
    return tx.exec1("SELECT count(*) FROM tasker_mq.q_jobs")[0].template as<int>();
  });
  CHECK(count == 1);
}

TEST_CASE_FIXTURE(queue_fixture, "create_queue is idempotent and drop_queue removes a queue") {
  in_tx([](auto& tx) {
    queue_client::create_queue(tx, "jobs");
    queue_client::create_queue(tx, "other");
  });
  auto queues = in_tx([](auto& tx) { return queue_client::list_queues(tx); });
  REQUIRE(queues.size() == 2);
  CHECK(queues[0].name == "jobs");
  CHECK(queues[1].name == "other");
  CHECK_FALSE(queues[0].created_at.empty());

  CHECK(in_tx([](auto& tx) { return queue_client::drop_queue(tx, "other"); }));
  CHECK_FALSE(in_tx([](auto& tx) { return queue_client::drop_queue(tx, "other"); }));
  queues = in_tx([](auto& tx) { return queue_client::list_queues(tx); });
  REQUIRE(queues.size() == 1);
  CHECK(queues[0].name == "jobs");
}

TEST_CASE_FIXTURE(queue_fixture, "negative delays, timeouts and quantities are rejected") {
  pqxx::work tx{conn};
  CHECK_THROWS_AS(queue_client::send(tx, "jobs", json::object(), -1), std::invalid_argument);
  CHECK_THROWS_AS(queue_client::send_batch(tx, "jobs", {json::object()}, -1),
                  std::invalid_argument);
  CHECK_THROWS_AS(queue_client::read(tx, "jobs", -1, 1), std::invalid_argument);
  CHECK_THROWS_AS(queue_client::read(tx, "jobs", 1, -1), std::invalid_argument);
  CHECK_THROWS_AS(queue_client::set_vt(tx, "jobs", 1, -5), std::invalid_argument);
  CHECK_THROWS_AS(queue_client::list_archived(tx, "jobs", -1), std::invalid_argument);
}

TEST_CASE_FIXTURE(queue_fixture, "a message that cannot be serialized names its queue") {
  pqxx::work tx{conn};
  try {
    queue_client::send(tx, "jobs", json{{"bad", std::string("\xff\xfe")}});
    FAIL("expected std::invalid_argument");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string{e.what()}.find("'jobs'") != std::string::npos);
  }
}

namespace {

std::vector<std::string> queue_indexes(pqxx::connection& conn, const std::string& queue) {
  pqxx::read_transaction tx{conn};
  std::vector<std::string> out;
  for (const auto& row : tx.exec_params(
         "SELECT indexdef FROM pg_indexes WHERE schemaname = 'tasker_mq' AND tablename = $1"
         " ORDER BY indexname",
         "q_" + queue))
    out.push_back(row[0].as<std::string>());
  return out;
}

} // namespace

// Every read picks `vt <= clock_timestamp()`, which no index condition can
// use; an index on vt would only be written (0044_queues_without_vt_index.sql).
TEST_CASE_FIXTURE(queue_fixture, "a queue table is indexed by its message id alone") {
  auto indexes = queue_indexes(conn, "jobs");
  REQUIRE(indexes.size() == 1);
  CHECK(indexes[0].find("(msg_id)") != std::string::npos);
}

TEST_CASE("upgrading drops the visibility index of existing queues and keeps their messages") {
  tasker::testing::scratch_db db{false};
  auto conn = db.connect();
  const std::string upgrade = "0044_queues_without_vt_index.sql";
  // The schema as it was before the upgrade.
  tasker::resources::apply_migrations(conn, upgrade);
  std::int64_t early = 0;
  std::int64_t late = 0;
  {
    pqxx::work tx{conn};
    queue_client::create_queue(tx, "jobs");
    early = queue_client::send(tx, "jobs", json{{"n", 1}});
    late = queue_client::send(tx, "jobs", json{{"n", 2}}, 3600);
    tx.commit();
  }
  REQUIRE(queue_indexes(conn, "jobs").size() == 2);

  auto applied = tasker::resources::apply_migrations(conn);
  REQUIRE(applied.size() == 1);
  CHECK(applied[0] == upgrade);
  auto indexes = queue_indexes(conn, "jobs");
  REQUIRE(indexes.size() == 1);
  CHECK(indexes[0].find("(msg_id)") != std::string::npos);

  // Nothing lost: the visible message is read, the hidden one stays hidden.
  pqxx::work tx{conn};
  auto got = queue_client::read(tx, "jobs", 30, 10);
  REQUIRE(got.size() == 1);
  CHECK(got[0].msg_id == early);
  CHECK(got[0].message == json{{"n", 1}});
  CHECK(tx.exec_params1("SELECT count(*) FROM tasker_mq.q_jobs WHERE msg_id = $1", late)[0]
          .as<int>() == 1);
  queue_client::create_queue(tx, "more");
  tx.commit();
  CHECK(queue_indexes(conn, "more").size() == 1);
}
