#include "messaging/queue_listener.hpp"
#include "messaging/queue_client.hpp"
#include "messaging/queue_test_fixture.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <thread>

using namespace tasker::messaging;
using tasker::messaging::test::queue_fixture;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

// Sends from a connection of its own, as another node would.
void send_from_elsewhere(const queue_fixture& f, const char* queue, bool commit = true) {
  pqxx::connection other{f.db.url()};
  pqxx::work tx{other};
  queue_client::send(tx, queue, json{{"wake", true}});
  if (commit)
    tx.commit();
}

} // namespace

TEST_CASE("the notify channel of a queue is tasker_mq_ followed by its name") {
  CHECK(notify_channel("orchestration_step_results") == "tasker_mq_orchestration_step_results");
  CHECK_THROWS_AS(notify_channel("Bad-Name"), std::invalid_argument);
}

TEST_CASE_FIXTURE(queue_fixture, "a listener is woken by a send committed on another connection") {
  pqxx::connection listen_conn{db.url()};
  queue_listener listener{listen_conn, "jobs"};
  CHECK(listener.channel() == "tasker_mq_jobs");

  auto start = clock_type::now();
  std::thread sender{[&] {
    std::this_thread::sleep_for(100ms);
    send_from_elsewhere(*this, "jobs");
  }};
  bool woke = listener.wait(5s);
  auto waited = clock_type::now() - start;
  sender.join();
  CHECK(woke);
  CHECK(waited < 4s); // woken by the send, not by the timeout
}

TEST_CASE_FIXTURE(queue_fixture, "wait returns false after its timeout when nothing was sent") {
  pqxx::connection listen_conn{db.url()};
  queue_listener listener{listen_conn, "jobs"};
  auto start = clock_type::now();
  CHECK_FALSE(listener.wait(200ms));
  auto waited = clock_type::now() - start;
  CHECK(waited >= 200ms);
  CHECK(waited < 2s);
}

TEST_CASE_FIXTURE(queue_fixture, "a send that arrived before wait is not lost") {
  pqxx::connection listen_conn{db.url()};
  queue_listener listener{listen_conn, "jobs"};
  send_from_elsewhere(*this, "jobs");
  std::this_thread::sleep_for(50ms);
  auto start = clock_type::now();
  CHECK(listener.wait(5s));
  CHECK(clock_type::now() - start < 1s);
  CHECK_FALSE(listener.wait(100ms)); // consumed by the first wait
}

TEST_CASE_FIXTURE(queue_fixture,
                  "sends to another queue and rolled-back sends do not wake a listener") {
  in_tx([](auto& tx) { queue_client::create_queue(tx, "other"); });
  pqxx::connection listen_conn{db.url()};
  queue_listener listener{listen_conn, "jobs"};
  send_from_elsewhere(*this, "other");
  send_from_elsewhere(*this, "jobs", /*commit=*/false);
  CHECK_FALSE(listener.wait(300ms));
}

TEST_CASE_FIXTURE(queue_fixture, "send_batch and redrive wake a listener too") {
  pqxx::connection listen_conn{db.url()};
  queue_listener listener{listen_conn, "jobs"};
  auto sent = in_tx([](auto& tx) {
    return queue_client::send_batch(tx, "jobs", {json{{"i", 1}}, json{{"i", 2}}});
  });
  CHECK(listener.wait(5s));
  in_tx([&](auto& tx) { queue_client::archive(tx, "jobs", sent, "test"); });
  CHECK_FALSE(listener.wait(100ms)); // archiving makes nothing readable
  in_tx([&](auto& tx) { queue_client::redrive(tx, "jobs", sent); });
  CHECK(listener.wait(5s));
}
