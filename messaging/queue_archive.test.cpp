// Archive (dead letters), redrive and metrics.
#include "messaging/queue_client.hpp"
#include "messaging/queue_test_fixture.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

using namespace tasker::messaging;
using tasker::messaging::test::queue_fixture;
using json = nlohmann::json;
using ids = std::vector<std::int64_t>;

namespace {

ids send_three(queue_fixture& f) {
  return f.in_tx([](auto& tx) {
    return queue_client::send_batch(tx, "jobs", {json{{"i", 0}}, json{{"i", 1}}, json{{"i", 2}}});
  });
}

std::vector<archived_message> archived(queue_fixture& f, int limit = 100) {
  return f.in_tx([&](auto& tx) { return queue_client::list_archived(tx, "jobs", limit); });
}

const archived_message* find(const std::vector<archived_message>& list, std::int64_t id) {
  auto it = std::find_if(list.begin(), list.end(), [&](const auto& m) { return m.msg_id == id; });
  return it == list.end() ? nullptr : &*it;
}

} // namespace

TEST_CASE_FIXTURE(queue_fixture, "archived messages leave the queue and keep their reason") {
  auto sent = send_three(*this);
  in_tx([](auto& tx) { return queue_client::read(tx, "jobs", 30, 1); }); // read_ct of sent[0]: 1
  auto moved = in_tx([&](auto& tx) {
    return queue_client::archive(tx, "jobs", {sent[0], sent[1], 999999}, "schema violation");
  });
  CHECK(moved == ids{sent[0], sent[1]});

  auto m = in_tx([](auto& tx) { return queue_client::metrics(tx, "jobs"); });
  CHECK(m.queue_length == 1);

  auto list = archived(*this);
  REQUIRE(list.size() == 2);
  for (const auto& a : list) {
    CHECK(a.reason == "schema violation");
    CHECK_FALSE(a.archived_at.empty());
  }
  REQUIRE(find(list, sent[0]) != nullptr);
  CHECK(find(list, sent[0])->read_ct == 1);
  CHECK(find(list, sent[0])->message == json{{"i", 0}});
  CHECK(find(list, sent[1])->read_ct == 0);
  CHECK(archived(*this, 1).size() == 1);
}

TEST_CASE_FIXTURE(queue_fixture, "each message of a batch keeps its own archive reason") {
  auto sent = send_three(*this);
  auto moved = in_tx([&](auto& tx) {
    return queue_client::archive(tx, "jobs",
                                 {archive_entry{sent[2], "missing field \"step_uuid\""},
                                  archive_entry{sent[0], "not an object: {,} \\ 'quoted'"}});
  });
  CHECK(moved == ids{sent[0], sent[2]});
  auto list = archived(*this);
  REQUIRE(list.size() == 2);
  REQUIRE(find(list, sent[0]) != nullptr);
  REQUIRE(find(list, sent[2]) != nullptr);
  CHECK(find(list, sent[0])->reason == "not an object: {,} \\ 'quoted'");
  CHECK(find(list, sent[2])->reason == "missing field \"step_uuid\"");

  auto left = in_tx([](auto& tx) { return queue_client::read(tx, "jobs", 30, 10); });
  REQUIRE(left.size() == 1);
  CHECK(left[0].msg_id == sent[1]);
}

TEST_CASE_FIXTURE(queue_fixture,
                  "redrive puts archived messages back, readable now, read_ct reset") {
  auto sent = send_three(*this);
  // Read twice so read_ct is 2 before the message is dead-lettered.
  in_tx([](auto& tx) { return queue_client::read(tx, "jobs", 0, 3); });
  in_tx([](auto& tx) { return queue_client::read(tx, "jobs", 300, 3); });
  in_tx([&](auto& tx) { return queue_client::archive(tx, "jobs", {sent[0], sent[1]}, "poison"); });
  CHECK(in_tx([](auto& tx) { return queue_client::read(tx, "jobs", 30, 10); }).empty());

  auto back = in_tx([&](auto& tx) { return queue_client::redrive(tx, "jobs", {sent[1], 424242}); });
  CHECK(back == ids{sent[1]});

  auto list = archived(*this);
  REQUIRE(list.size() == 1);
  CHECK(list[0].msg_id == sent[0]);

  auto got = in_tx([](auto& tx) { return queue_client::read(tx, "jobs", 30, 10); });
  REQUIRE(got.size() == 1);
  CHECK(got[0].msg_id == sent[1]);
  CHECK(got[0].read_ct == 1); // reset to 0 by redrive, then this read
  CHECK(got[0].message == json{{"i", 1}});

  // A redriven message can be dead-lettered again.
  auto again =
      in_tx([&](auto& tx) { return queue_client::archive(tx, "jobs", {sent[1]}, "still bad"); });
  CHECK(again == ids{sent[1]});
  CHECK(archived(*this).size() == 2);
}

TEST_CASE_FIXTURE(queue_fixture, "the metrics of an empty queue are zero") {
  auto m = in_tx([](auto& tx) { return queue_client::metrics(tx, "jobs"); });
  CHECK(m.queue_name == "jobs");
  CHECK(m.queue_length == 0);
  CHECK(m.visible_length == 0);
  CHECK(m.total_messages_sent == 0);
  CHECK(m.oldest_msg_age_seconds == 0.0);
  CHECK(m.newest_msg_age_seconds == 0.0);
}

TEST_CASE_FIXTURE(queue_fixture, "metrics count what is queued and everything ever sent") {
  auto first = in_tx([](auto& tx) { return queue_client::send(tx, "jobs", json{{"i", 0}}); });
  auto rest = in_tx([](auto& tx) {
    return queue_client::send_batch(tx, "jobs", {json{{"i", 1}}, json{{"i", 2}}, json{{"i", 3}}});
  });
  in_tx([&](auto& tx) { queue_client::send(tx, "jobs", json{{"i", 4}}, 300); }); // delayed
  in_tx([&](auto& tx) { return queue_client::remove(tx, "jobs", {first, rest[0]}); });
  in_tx([](auto& tx) { return queue_client::read(tx, "jobs", 300, 1); }); // one in flight

  auto m = in_tx([](auto& tx) { return queue_client::metrics(tx, "jobs"); });
  CHECK(m.queue_length == 3);
  CHECK(m.visible_length == 1);
  CHECK(m.total_messages_sent == 5);
  CHECK(m.oldest_msg_age_seconds >= 0.0);
  CHECK(m.oldest_msg_age_seconds >= m.newest_msg_age_seconds);
  CHECK(m.oldest_msg_age_seconds < 60.0);
}

TEST_CASE_FIXTURE(queue_fixture, "metrics_all reports every queue by name") {
  in_tx([](auto& tx) {
    queue_client::create_queue(tx, "alpha");
    queue_client::send(tx, "alpha", json::object());
    queue_client::send(tx, "alpha", json::object());
  });
  auto all = in_tx([](auto& tx) { return queue_client::metrics_all(tx); });
  REQUIRE(all.size() == 2);
  CHECK(all[0].queue_name == "alpha");
  CHECK(all[0].queue_length == 2);
  CHECK(all[0].total_messages_sent == 2);
  CHECK(all[1].queue_name == "jobs");
  CHECK(all[1].queue_length == 0);
}

TEST_CASE_FIXTURE(queue_fixture, "a message cannot be archived without a reason") {
  auto sent = send_three(*this);
  {
    pqxx::work tx{conn};
    CHECK_THROWS_AS(queue_client::archive(tx, "jobs", {sent[0]}, ""), std::invalid_argument);
    CHECK_THROWS_AS(queue_client::archive(
                        tx, "jobs", {archive_entry{sent[0], "ok"}, archive_entry{sent[1], ""}}),
                    std::invalid_argument);
  }
  const char* sql_calls[] = {
      "SELECT * FROM tasker_mq.archive('jobs', ARRAY[$1::bigint], ''::text)",
      "SELECT * FROM tasker_mq.archive('jobs', ARRAY[$1::bigint], NULL::text)",
      "SELECT * FROM tasker_mq.archive('jobs', ARRAY[$1::bigint], ARRAY[NULL::text])",
      "SELECT * FROM tasker_mq.archive('jobs', ARRAY[$1::bigint], ARRAY['a', 'b'])",
  };
  for (const char* sql : sql_calls) {
    CAPTURE(sql);
    pqxx::work tx{conn};
    CHECK_THROWS_AS(tx.exec_params(sql, sent[0]), pqxx::sql_error);
  }
  CHECK(archived(*this).empty());
  CHECK(in_tx([](auto& tx) { return queue_client::metrics(tx, "jobs"); }).queue_length == 3);
}

TEST_CASE_FIXTURE(queue_fixture, "consumed messages are gone at commit and back, untouched, "
                                 "after a rollback") {
  auto sent = send_three(*this);
  // A delayed message is not consumed before its time.
  in_tx([](auto& tx) { return queue_client::send(tx, "jobs", json{{"i", 3}}, 300); });
  {
    pqxx::work tx{conn};
    auto got = queue_client::consume(tx, "jobs", 2);
    REQUIRE(got.size() == 2);
    CHECK(got[0].msg_id == sent[0]);
    CHECK(got[1].msg_id == sent[1]);
    CHECK(got[0].read_ct == 1);
    CHECK(json::parse(got[0].body) == json{{"i", 0}});
    CHECK(got[0].headers.empty());
    CHECK_FALSE(got[0].enqueued_at.empty());
    // Another consumer skips the locked messages instead of waiting.
    pqxx::connection other{db.connect()};
    pqxx::work tx2{other};
    auto rest = queue_client::consume(tx2, "jobs", 10);
    REQUIRE(rest.size() == 1);
    CHECK(rest[0].msg_id == sent[2]);
    tx2.abort();
    tx.abort(); // rolled back: nothing consumed
  }
  auto m = in_tx([](auto& tx) { return queue_client::metrics(tx, "jobs"); });
  CHECK(m.queue_length == 4);
  CHECK(m.visible_length == 3);
  auto again = in_tx([](auto& tx) { return queue_client::consume(tx, "jobs", 10); });
  REQUIRE(again.size() == 3);
  CHECK(again[0].read_ct == 1); // the rolled-back delivery left no trace
  CHECK(in_tx([](auto& tx) { return queue_client::metrics(tx, "jobs"); }).queue_length == 1);
  CHECK(in_tx([](auto& tx) { return queue_client::consume(tx, "jobs", 10); }).empty());
  CHECK(in_tx([](auto& tx) { return queue_client::consume(tx, "jobs", 0); }).empty());
  pqxx::work tx{conn};
  CHECK_THROWS_AS(queue_client::consume(tx, "jobs", -1), std::invalid_argument);
  CHECK_THROWS_AS(queue_client::consume(tx, "Bad-Name", 1), std::invalid_argument);
}

TEST_CASE_FIXTURE(queue_fixture, "consumed messages are archived exactly as they were stored, "
                                 "each with its reason") {
  // Headers, and a number no double holds: both must survive as stored.
  auto odd = in_tx([](auto& tx) {
    return tx.exec1("SELECT tasker_mq.send('jobs', '{\"n\": 1e400, \"x\": 1.10}'::jsonb, 0,"
                    " '{\"trace\": \"t-1\"}'::jsonb)")[0]
        .template as<std::int64_t>();
  });
  auto plain = in_tx([](auto& tx) { return queue_client::send(tx, "jobs", json{{"i", 1}}); });
  auto kept = in_tx([](auto& tx) { return queue_client::send(tx, "jobs", json{{"i", 2}}); });

  auto archived_ids = in_tx([&](auto& tx) {
    auto got = queue_client::consume(tx, "jobs", 10);
    REQUIRE(got.size() == 3);
    CHECK(got[0].headers == R"({"trace": "t-1"})");
    // An entry for a message this batch did not consume is a caller's bug.
    CHECK_THROWS_AS(queue_client::archive_consumed(tx, "jobs", got, {{kept + 1000, "why"}}),
                    std::invalid_argument);
    CHECK_THROWS_AS(queue_client::archive_consumed(tx, "jobs", got, {{plain, ""}}),
                    std::invalid_argument);
    // The same message twice is archived once, with its first reason.
    return queue_client::archive_consumed(
        tx, "jobs", got, {{odd, "unrepresentable"}, {plain, "first"}, {plain, "second"}});
  });
  CHECK(archived_ids == ids{odd, plain});
  CHECK(in_tx([](auto& tx) { return queue_client::metrics(tx, "jobs"); }).queue_length == 0);

  auto list = archived(*this);
  REQUIRE(list.size() == 2);
  REQUIRE(find(list, plain) != nullptr);
  CHECK(find(list, plain)->reason == "first");
  CHECK(find(list, plain)->message == json{{"i", 1}});
  CHECK(find(list, plain)->read_ct == 1);
  CHECK(find(list, plain)->headers.is_null());
  auto same = in_tx([&](auto& tx) {
    return tx.exec1("SELECT a.message = '{\"n\": 1e400, \"x\": 1.10}'::jsonb"
                    " AND a.message::text LIKE '%1.10%' AND a.headers = '{\"trace\": \"t-1\"}'"
                    " AND a.reason = 'unrepresentable'"
                    " FROM tasker_mq.a_jobs a WHERE a.msg_id = " + std::to_string(odd))[0]
        .template as<bool>();
  });
  CHECK(same);
  // Redriven, it is a message like any other again.
  in_tx([&](auto& tx) { return queue_client::redrive(tx, "jobs", {plain}); });
  auto back = in_tx([](auto& tx) { return queue_client::consume(tx, "jobs", 10); });
  REQUIRE(back.size() == 1);
  CHECK(back[0].msg_id == plain);
}
