#include "tools/taskerctl/ctl_test_support.hpp"

#include "messaging/queue_client.hpp"

using namespace tasker;
using namespace tasker::tools::ctl;
using namespace tasker::tools::ctl::test;
using messaging::queue_client;

TEST_CASE_FIXTURE(ctl_fixture, "queue stats report the numbers of the queue metrics") {
  auto conn = db.connect();
  {
    pqxx::work tx{conn};
    queue_client::create_queue(tx, "stats_q");
    for (int i = 0; i < 3; ++i)
      queue_client::send(tx, "stats_q", {{"i", i}});
    auto first = queue_client::read(tx, "stats_q", 60, 1);
    queue_client::archive(tx, "stats_q", {first.at(0).msg_id}, "test");
    tx.commit();
  }
  auto doc = run([&](auto& o, auto& e) { return queue_stats(json(), o, e); }).json();
  REQUIRE(doc.size() == 1);
  pqxx::work tx{conn};
  auto m = queue_client::metrics(tx, "stats_q");
  CHECK(doc[0]["queue"] == "stats_q");
  CHECK(doc[0]["length"] == m.queue_length);
  CHECK(doc[0]["visible"] == m.visible_length);
  CHECK(doc[0]["total_sent"] == m.total_messages_sent);
  CHECK(doc[0]["archived"] == 1);
  auto human = run([&](auto& o, auto& e) { return queue_stats(ctx, o, e); });
  CHECK(contains(human.out, "QUEUE    LENGTH  VISIBLE"));
  CHECK(contains(human.out, "stats_q"));
}

TEST_CASE_FIXTURE(ctl_fixture,
                  "dlq list shows an archived message's reason and redrive puts it back") {
  auto conn = db.connect();
  std::int64_t id = 0;
  {
    pqxx::work tx{conn};
    queue_client::create_queue(tx, "dead_q");
    id = queue_client::send(tx, "dead_q", {{"order", 42}});
    queue_client::archive(tx, "dead_q", {id}, "task_request.priority: expected integer");
    tx.commit();
  }
  auto list = run([&](auto& o, auto& e) { return dlq_list(ctx, "", 10, o, e); });
  CHECK(list.code == 0);
  CHECK(contains(list.out, "task_request.priority: expected integer"));
  CHECK(contains(list.out, "{\"order\":42}"));
  auto doc = run([&](auto& o, auto& e) { return dlq_list(json(), "dead_q", 10, o, e); }).json();
  REQUIRE(doc.size() == 1);
  CHECK(doc[0]["msg_id"] == id);

  auto redrive =
      run([&](auto& o, auto& e) { return dlq_redrive(ctx, "dead_q", {id}, false, o, e); });
  CHECK(redrive.code == 0);
  CHECK(contains(redrive.out, "redrove 1 message into dead_q: " + std::to_string(id)));
  {
    pqxx::work tx{conn};
    CHECK(queue_client::metrics(tx, "dead_q").visible_length == 1);
    CHECK(queue_client::list_archived(tx, "dead_q", 10).empty());
  }
  auto twice = run([&](auto& o, auto& e) { return dlq_redrive(ctx, "dead_q", {id}, false, o, e); });
  CHECK(twice.code == 1);
  CHECK(contains(twice.err, "not in the archive of dead_q"));
}

TEST_CASE_FIXTURE(ctl_fixture,
                  "redrive --all moves every archived message and needs ids or --all") {
  auto conn = db.connect();
  {
    pqxx::work tx{conn};
    queue_client::create_queue(tx, "all_q");
    auto a = queue_client::send(tx, "all_q", {{"n", 1}});
    auto b = queue_client::send(tx, "all_q", {{"n", 2}});
    queue_client::archive(tx, "all_q", {a, b}, "poison");
    tx.commit();
  }
  auto neither = run([&](auto& o, auto& e) { return dlq_redrive(ctx, "all_q", {}, false, o, e); });
  CHECK(neither.code == 2);
  CHECK(contains(neither.err, "neither"));
  auto all = run([&](auto& o, auto& e) { return dlq_redrive(json(), "all_q", {}, true, o, e); });
  CHECK(all.code == 0);
  CHECK(all.json()["redriven"].size() == 2);
  auto unknown =
      run([&](auto& o, auto& e) { return dlq_redrive(ctx, "no_such_q", {}, true, o, e); });
  CHECK(unknown.code == 1);
  CHECK(contains(unknown.err, "no_such_q"));
}
