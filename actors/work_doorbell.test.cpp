#include "actors/work_doorbell.hpp"

#include "messaging/queue_client.hpp"
#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

using namespace tasker;
using namespace std::chrono_literals;
using actors::work_doorbell;
using messaging::queue_client;

namespace {

struct doorbell_fixture {
  testing::scratch_db db;
  pqxx::connection conn{db.url()};

  doorbell_fixture() {
    pqxx::work tx{conn};
    queue_client::create_queue(tx, "jobs");
    tx.commit();
  }

  void send() {
    pqxx::work tx{conn};
    queue_client::send(tx, "jobs", nlohmann::json::object());
    tx.commit();
  }
};

// Waits until `n` threads are blocked in the doorbell (listening or idle):
// a wait that has not started yet cannot be woken.
void settle() {
  std::this_thread::sleep_for(300ms);
}

// Three actors wait up to 3 s each; once all are waiting, `act` runs.
// Returns how many of them were woken (the rest timed out).
template <class Act>
int woken_of_three(work_doorbell& bell, Act act) {
  std::atomic<int> woken{0};
  std::vector<std::thread> actors;
  for (int i = 0; i < 3; ++i)
    actors.emplace_back([&] {
      if (bell.wait(3s))
        ++woken;
    });
  settle();
  act();
  for (auto& t : actors)
    t.join();
  return woken.load();
}

} // namespace

TEST_CASE_FIXTURE(doorbell_fixture, "a wait with nothing to wake it times out") {
  work_doorbell bell{db.url(), "jobs", 4};
  CHECK_FALSE(bell.wait(200ms));
}

TEST_CASE_FIXTURE(doorbell_fixture, "a send wakes one of the waiting actors, not all of them") {
  work_doorbell bell{db.url(), "jobs", 4};
  CHECK(woken_of_three(bell, [&] { send(); }) == 1);
}

TEST_CASE_FIXTURE(doorbell_fixture, "a ring wakes the actor that is listening") {
  work_doorbell bell{db.url(), "jobs", 4};
  auto waiter = std::async(std::launch::async, [&] { return bell.wait(30s); });
  settle();
  auto started = std::chrono::steady_clock::now();
  bell.ring();
  REQUIRE(waiter.wait_for(10s) == std::future_status::ready);
  CHECK(waiter.get());
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  CHECK(bell.pending_rings() == 0);
}

TEST_CASE_FIXTURE(doorbell_fixture, "each ring wakes one more idle actor") {
  work_doorbell bell{db.url(), "jobs", 4};
  CHECK(woken_of_three(bell, [&] {
          bell.ring();
          bell.ring();
        }) == 2);
}

TEST_CASE_FIXTURE(doorbell_fixture, "a ring with nobody waiting is kept for the next wait, "
                                    "up to the group's size") {
  work_doorbell bell{db.url(), "jobs", 2};
  for (int i = 0; i < 5; ++i)
    bell.ring();
  CHECK(bell.pending_rings() == 2);
  CHECK(bell.wait(0ms));
  CHECK(bell.wait(0ms));
  CHECK_FALSE(bell.wait(100ms));
}

TEST_CASE_FIXTURE(doorbell_fixture, "a send while nobody listens still wakes the next wait") {
  work_doorbell bell{db.url(), "jobs", 4};
  CHECK_FALSE(bell.wait(100ms)); // opens the connection and LISTENs
  send();
  CHECK(bell.wait(5s));
}

namespace {

// Three actors start waiting one after another: the first listens, the next
// two wait idle, `earlier` before `later`.
struct three_waits {
  std::future<bool> first, earlier, later;
};

three_waits wait_in_turn(work_doorbell& bell) {
  three_waits w;
  for (auto* f : {&w.first, &w.earlier, &w.later}) {
    *f = std::async(std::launch::async, [&bell] { return bell.wait(10s); });
    settle();
  }
  return w;
}

} // namespace

TEST_CASE_FIXTURE(doorbell_fixture, "a ring wakes the idle actor that went idle last") {
  work_doorbell bell{db.url(), "jobs", 4};
  auto [listener, earlier, later] = wait_in_turn(bell);
  bell.ring();
  REQUIRE(later.wait_for(5s) == std::future_status::ready);
  CHECK(later.get());
  CHECK(earlier.wait_for(200ms) == std::future_status::timeout);
  CHECK(listener.wait_for(0ms) == std::future_status::timeout);
  bell.ring(); // then the earlier idle actor
  REQUIRE(earlier.wait_for(5s) == std::future_status::ready);
  CHECK(earlier.get());
  CHECK(listener.wait_for(200ms) == std::future_status::timeout);
  bell.ring(); // nobody idle: the listener, through its wake-up descriptor
  REQUIRE(listener.wait_for(5s) == std::future_status::ready);
  CHECK(listener.get());
}

TEST_CASE_FIXTURE(doorbell_fixture, "after a notification the actor that went idle last listens") {
  work_doorbell bell{db.url(), "jobs", 4};
  auto [first, earlier, later] = wait_in_turn(bell);
  send(); // wakes the listener, which hands the connection to `later`
  REQUIRE(first.wait_for(5s) == std::future_status::ready);
  CHECK(first.get());
  settle();
  send(); // `later` listens now
  REQUIRE(later.wait_for(5s) == std::future_status::ready);
  CHECK(later.get());
  CHECK(earlier.wait_for(200ms) == std::future_status::timeout);
  bell.ring();
  REQUIRE(earlier.wait_for(5s) == std::future_status::ready);
  CHECK(earlier.get());
}
