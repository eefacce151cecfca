#include "actors/notify_listener.hpp"

#include "messaging/queue_client.hpp"
#include "tests/support/scratch_db.hpp"

#include <caf/all.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>

using namespace tasker;
using namespace tasker::messaging;
using namespace std::chrono_literals;

namespace {

struct listener_fixture {
  tasker::testing::scratch_db db;
  caf::actor_system_config cfg;
  std::optional<caf::actor_system> sys;
  caf::actor listener;

  listener_fixture() {
    add_message_types(cfg);
    sys.emplace(cfg);
    auto spawned = actors::spawn_notify_listener(*sys, {db.url(), 200ms, 200ms});
    REQUIRE(spawned);
    listener = *spawned;
  }

  ~listener_fixture() {
    caf::anon_send(listener, stop_request{true});
    listener = nullptr;
  }

  void notify(const std::string& channel) {
    auto conn = db.connect();
    pqxx::work tx{conn};
    tx.exec_params("SELECT pg_notify($1, '')", channel);
    tx.commit();
  }

  // Waits (generously) for the first wake; nothing when none came.
  static std::optional<std::string> next_wake(caf::scoped_actor& self,
                                              caf::timespan timeout = caf::timespan{10s}) {
    std::optional<std::string> out;
    self->receive([&](const wake& w) { out = w.channel; },
                  caf::after(timeout) >> [] {});
    return out;
  }
};

} // namespace

TEST_CASE_FIXTURE(listener_fixture, "a send to a subscribed queue wakes the subscriber") {
  {
    pqxx::connection conn = db.connect();
    pqxx::work tx{conn};
    queue_client::create_queue(tx, "alpha_queue");
    tx.commit();
  }
  caf::scoped_actor self{*sys};
  self->send(listener, subscribe_wake{{"alpha_queue"}, ""});
  // The subscription is handled within one wait; poll until it is in force.
  std::optional<std::string> got;
  for (int i = 0; i < 50 && !got; ++i) {
    pqxx::connection conn = db.connect();
    pqxx::work tx{conn};
    queue_client::send(tx, "alpha_queue", nlohmann::json{{"n", i}});
    tx.commit();
    got = next_wake(self, caf::timespan{500ms});
  }
  REQUIRE(got);
  CHECK(*got == "alpha_queue");
}

TEST_CASE_FIXTURE(listener_fixture, "a raw channel name is listened on as it is") {
  caf::scoped_actor self{*sys};
  self->send(listener, subscribe_wake{{"tasker_tasks_ready"}, ""});
  std::optional<std::string> got;
  for (int i = 0; i < 50 && !got; ++i) {
    notify("tasker_tasks_ready");
    got = next_wake(self, caf::timespan{500ms});
  }
  REQUIRE(got);
  CHECK(*got == "tasker_tasks_ready");
}

TEST_CASE_FIXTURE(listener_fixture, "only subscribers of the notified channel are woken") {
  caf::scoped_actor a{*sys};
  caf::scoped_actor b{*sys};
  a->send(listener, subscribe_wake{{"tasker_tasks_ready"}, ""});
  b->send(listener, subscribe_wake{{"beta_queue"}, ""});
  std::optional<std::string> got;
  for (int i = 0; i < 50 && !got; ++i) {
    notify("tasker_tasks_ready");
    got = next_wake(a, caf::timespan{500ms});
  }
  REQUIRE(got);
  CHECK_FALSE(next_wake(b, caf::timespan{600ms}).has_value());
}

TEST_CASE_FIXTURE(listener_fixture, "members of a group are woken in turn, one per notification") {
  caf::scoped_actor a{*sys};
  caf::scoped_actor b{*sys};
  caf::scoped_actor loner{*sys};
  a->send(listener, subscribe_wake{{"tasker_tasks_ready"}, "claimers"});
  b->send(listener, subscribe_wake{{"tasker_tasks_ready"}, "claimers"});
  loner->send(listener, subscribe_wake{{"tasker_tasks_ready"}, ""});
  // Until every subscription is in force, wakes may go anywhere: drain them.
  std::optional<std::string> got;
  for (int i = 0; i < 50 && !got; ++i) {
    notify("tasker_tasks_ready");
    got = next_wake(loner, caf::timespan{500ms});
  }
  REQUIRE(got);
  while (next_wake(a, caf::timespan{300ms}) || next_wake(b, caf::timespan{300ms})
         || next_wake(loner, caf::timespan{300ms})) {
  }
  // Each notification (one per wait) wakes the loner and one of the group.
  int to_a = 0;
  int to_b = 0;
  for (int i = 0; i < 4; ++i) {
    notify("tasker_tasks_ready");
    REQUIRE(next_wake(loner).has_value());
    auto first = next_wake(a, caf::timespan{300ms});
    auto second = next_wake(b, caf::timespan{300ms});
    CHECK(first.has_value() != second.has_value());
    to_a += first ? 1 : 0;
    to_b += second ? 1 : 0;
  }
  CHECK(to_a == 2);
  CHECK(to_b == 2);
}

TEST_CASE_FIXTURE(listener_fixture, "the listener answers status while idle, so it never blocks its mailbox") {
  caf::scoped_actor self{*sys};
  std::optional<std::uint64_t> delivered;
  self->request(listener, caf::timespan{5s}, status_atom::value)
    .receive([&](std::uint64_t n) { delivered = n; }, [](const caf::error&) {});
  REQUIRE(delivered);
  CHECK(*delivered == 0);
}

TEST_CASE("a listener for an unreachable database is refused with a connection error") {
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  auto spawned = actors::spawn_notify_listener(
    sys, {"postgresql://postgres@127.0.0.1:1/none?connect_timeout=2", 200ms, 200ms});
  CHECK_FALSE(spawned);
}

TEST_CASE("subscription names map to PostgreSQL channels") {
  CHECK(actors::channel_for("orchestration_step_results")
        == "tasker_mq_orchestration_step_results");
  CHECK(actors::channel_for("tasker_tasks_ready") == "tasker_tasks_ready");
  CHECK_THROWS_AS(actors::channel_for("Bad Name"), std::invalid_argument);
}
