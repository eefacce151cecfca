#include "actors/notify_listener.hpp"

#include "messaging/queue_client.hpp"
#include "tests/support/scratch_db.hpp"

#include <caf/all.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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

TEST_CASE("subscriptions made one after another are each in force long before one full wait") {
  // Waits of five seconds: a subscription that had to wait for a full wait to
  // end would take seconds to answer for.
  tasker::testing::scratch_db db;
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  auto spawned = actors::spawn_notify_listener(sys, {db.url(), 5s, 200ms});
  REQUIRE(spawned);
  auto listener = *spawned;
  // Idle with nothing to listen on: the first subscription meets no wait.
  std::this_thread::sleep_for(300ms);
  const std::vector<std::string> channels{"tasker_one", "tasker_two", "tasker_three"};
  std::vector<std::unique_ptr<caf::scoped_actor>> subscribers;
  const auto started = std::chrono::steady_clock::now();
  for (const auto& channel : channels) {
    subscribers.push_back(std::make_unique<caf::scoped_actor>(sys));
    auto& self = *subscribers.back();
    self->send(listener, subscribe_wake{{channel}, ""});
    // Answered after the subscription (one mailbox, in order): it is in force.
    std::optional<std::uint64_t> answered;
    self->request(listener, caf::timespan{10s}, status_atom::value)
      .receive([&](std::uint64_t n) { answered = n; }, [](const caf::error&) {});
    REQUIRE(answered);
  }
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK_MESSAGE(took < 2s, "three subscriptions took "
                             << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                             << " ms with waits of 5 s");
  // Each is listened on: a notification sent now wakes its subscriber.
  for (std::size_t i = 0; i < channels.size(); ++i) {
    auto conn = db.connect();
    pqxx::work tx{conn};
    tx.exec_params("SELECT pg_notify($1, '')", channels[i]);
    tx.commit();
    std::optional<std::string> got;
    (*subscribers[i])->receive([&](const wake& w) { got = w.channel; },
                               caf::after(caf::timespan{10s}) >> [] {});
    REQUIRE(got);
    CHECK(*got == channels[i]);
  }
  caf::anon_send(listener, stop_request{true});
}

TEST_CASE("the listener's waits start short after a subscription and double up to the longest") {
  using us = std::chrono::microseconds;
  actors::wait_schedule waits{us{200000}};
  // Before any subscription: the longest wait.
  CHECK(waits.next() == us{200000});
  waits.restart();
  std::vector<us> seen;
  for (int i = 0; i < 10; ++i)
    seen.push_back(waits.next());
  CHECK(seen == std::vector<us>{us{1000}, us{2000}, us{4000}, us{8000}, us{16000}, us{32000},
                                us{64000}, us{128000}, us{200000}, us{200000}});
  waits.restart();
  CHECK(waits.next() == us{1000});
  CHECK(waits.next() == us{2000});
  // A longest wait below the first: every wait is the first.
  actors::wait_schedule tiny{us{10}};
  CHECK(tiny.next() == us{1000});
  tiny.restart();
  CHECK(tiny.next() == us{1000});
  CHECK(tiny.next() == us{1000});
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
