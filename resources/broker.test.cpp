#include "resources/broker.hpp"

#include "tests/support/scratch_db.hpp"

#include <caf/all.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <utility>

using namespace tasker;
using namespace tasker::messaging;
using namespace std::chrono_literals;

namespace {

using hold_atom = caf::atom_constant<caf::atom("hold")>;

struct shared_counters {
  std::atomic<int> in_use{0};
  std::atomic<int> peak{0};
  std::atomic<int> granted{0};
  std::atomic<int> queries_ok{0};
  std::atomic<int> errors{0};
};

// Takes one lease, runs a real query on it, holds it briefly, returns it.
caf::behavior lease_user(caf::event_based_actor* self, caf::actor broker,
                         std::shared_ptr<shared_counters> counters) {
  self->request(broker, caf::infinite, lease_request{1.0, caf::timespan{30s}, "user"})
    .then(
      [=](const connection_lease& lease) {
        auto now = ++counters->in_use;
        auto peak = counters->peak.load();
        while (now > peak && !counters->peak.compare_exchange_weak(peak, now)) {
        }
        pqxx::nontransaction tx{*lease.connection};
        if (tx.exec1("SELECT 1")[0].as<int>() == 1)
          ++counters->queries_ok;
        // Counted last: the test waits on `granted`, so it must not see a
        // grant whose query is still running.
        ++counters->granted;
        self->delayed_send(self, 2ms, hold_atom::value, lease.id);
      },
      [=](const caf::error&) {
        ++counters->errors;
        self->quit();
      });
  return {
    [=](hold_atom, std::uint64_t id) {
      --counters->in_use;
      self->send(broker, lease_return{id, false});
      self->quit();
    },
  };
}

caf::actor make_broker(caf::actor_system& sys, const std::string& url, std::size_t size) {
  auto hdl = resources::spawn_broker(sys, resources::broker_options{url, size});
  REQUIRE(hdl);
  return *hdl;
}

broker_status status(caf::scoped_actor& self, const caf::actor& broker) {
  broker_status out;
  self->request(broker, caf::infinite, status_atom::value)
    .receive([&](broker_status& st) { out = std::move(st); },
             [&](caf::error& err) { FAIL(self->system().render(err)); });
  return out;
}

// A scratch database and an actor system for one test.
struct broker_env {
  tasker::testing::scratch_db db{false};
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
};

} // namespace

TEST_CASE_FIXTURE(broker_env,
                  "the broker never leases more connections than its size under 100 concurrent "
                  "requests") {
  auto broker = make_broker(sys, db.url(), 3);
  auto counters = std::make_shared<shared_counters>();
  for (int i = 0; i < 100; ++i)
    sys.spawn(lease_user, broker, counters);
  {
    caf::scoped_actor self{sys};
    // Wait for every user to finish: every grant is returned.
    for (int spins = 0; counters->granted + counters->errors < 100 && spins < 3000; ++spins)
      std::this_thread::sleep_for(5ms);
    auto st = status(self, broker);
    CHECK(counters->granted.load() == 100);
    CHECK(counters->queries_ok.load() == 100);
    CHECK(counters->errors.load() == 0);
    CHECK(counters->peak.load() <= 3);
    // The broker's high-water mark: at least what the users saw at once.
    CHECK(st.peak_leased <= 3);
    CHECK(st.peak_leased >= static_cast<std::uint32_t>(counters->peak.load()));
    CHECK(st.size == 3);
    CHECK(st.grants == 100);
    CHECK(st.saturation <= 1.0);
    self->send_exit(broker, caf::exit_reason::user_shutdown);
  }
}

TEST_CASE_FIXTURE(broker_env,
                  "the broker's peak is the most connections leased out at once and never falls") {
  auto broker = make_broker(sys, db.url(), 4);
  {
    caf::scoped_actor self{sys};
    auto take = [&] {
      std::uint64_t id = 0;
      self->request(broker, caf::infinite, lease_request{1.0, caf::timespan{5s}, "test"})
        .receive([&](const connection_lease& lease) { id = lease.id; },
                 [&](caf::error& err) { FAIL(sys.render(err)); });
      return id;
    };
    auto give_back = [&](std::uint64_t id) { self->send(broker, lease_return{id, false}); };
    // Leased now, and the most leased at once so far.
    using counts = std::pair<std::uint32_t, std::uint32_t>;
    auto leased_and_peak = [&] {
      auto st = status(self, broker);
      return counts{st.leased, st.peak_leased};
    };
    CHECK(leased_and_peak() == counts{0, 0});
    auto a = take();
    auto b = take();
    CHECK(leased_and_peak() == counts{2, 2});
    give_back(a);
    CHECK(leased_and_peak() == counts{1, 2});
    auto c = take();
    auto d = take();
    CHECK(leased_and_peak() == counts{3, 3});
    for (auto id : {b, c, d})
      give_back(id);
    CHECK(leased_and_peak() == counts{0, 3});
    self->send_exit(broker, caf::exit_reason::user_shutdown);
  }
}

TEST_CASE_FIXTURE(broker_env, "the broker reclaims the lease of a holder that died") {
  auto broker = make_broker(sys, db.url(), 1);
  {
    caf::scoped_actor self{sys};
    // The holder takes the only connection and dies without returning it.
    auto holder = sys.spawn([=](caf::event_based_actor* h) {
      h->request(broker, caf::infinite, lease_request{1.0, caf::timespan{5s}, "doomed"})
        .then([=](const connection_lease&) { h->quit(caf::sec::runtime_error); });
    });
    self->wait_for(holder);
    // The next requester is served although nothing was returned.
    bool granted = false;
    self->request(broker, caf::infinite, lease_request{1.0, caf::timespan{5s}, "next"})
      .receive(
        [&](const connection_lease& lease) {
          pqxx::nontransaction tx{*lease.connection};
          granted = tx.exec1("SELECT 2")[0].as<int>() == 2;
          self->send(broker, lease_return{lease.id, false});
        },
        [&](caf::error& err) { FAIL(sys.render(err)); });
    CHECK(granted);
    auto st = status(self, broker);
    CHECK(st.reclaimed == 1);
    CHECK(st.leased == 0);
    // The reclaimed lease stopped counting: one connection, one at a time.
    CHECK(st.peak_leased == 1);
    self->send_exit(broker, caf::exit_reason::user_shutdown);
  }
}

TEST_CASE_FIXTURE(broker_env, "a waiter that outlives its timeout gets a lease_timeout error") {
  auto broker = make_broker(sys, db.url(), 1);
  {
    caf::scoped_actor holder{sys};
    caf::scoped_actor waiter{sys};
    connection_lease held;
    holder->request(broker, caf::infinite, lease_request{}).receive(
      [&](connection_lease& lease) { held = lease; },
      [&](caf::error& err) { FAIL(sys.render(err)); });
    caf::error got;
    waiter->request(broker, caf::infinite, lease_request{1.0, caf::timespan{20ms}, "late"})
      .receive([&](const connection_lease&) { FAIL("granted past the size"); },
               [&](caf::error& err) { got = err; });
    CHECK(got == errc::lease_timeout);
    holder->send(broker, lease_return{held.id, false});
    CHECK(status(holder, broker).timeouts == 1);
    holder->send_exit(broker, caf::exit_reason::user_shutdown);
  }
}

TEST_CASE_FIXTURE(broker_env, "the heavier waiter wins a contended connection") {
  auto broker = make_broker(sys, db.url(), 1);
  {
    caf::scoped_actor holder{sys};
    caf::scoped_actor light{sys};
    caf::scoped_actor heavy{sys};
    connection_lease held;
    holder->request(broker, caf::infinite, lease_request{}).receive(
      [&](connection_lease& lease) { held = lease; },
      [&](caf::error& err) { FAIL(sys.render(err)); });
    // The light waiter arrives first; a status round trip from the same
    // sender proves its request is queued before the heavy one is sent.
    light->send(broker, lease_request{1.0, caf::timespan{10s}, "light"});
    CHECK(status(light, broker).waiting == 1);
    heavy->send(broker, lease_request{2.0, caf::timespan{10s}, "heavy"});
    CHECK(status(heavy, broker).waiting == 2);
    holder->send(broker, lease_return{held.id, false});
    connection_lease heavy_lease;
    heavy->receive([&](connection_lease& lease) { heavy_lease = lease; },
                   caf::after(10s) >> [] { FAIL("the heavy waiter was not served"); });
    CHECK(heavy_lease.id != 0);
    CHECK(status(heavy, broker).waiting == 1);
    heavy->send(broker, lease_return{heavy_lease.id, false});
    bool light_served = false;
    light->receive([&](connection_lease& lease) {
                     light_served = true;
                     light->send(broker, lease_return{lease.id, false});
                   },
                   caf::after(10s) >> [] {});
    CHECK(light_served);
    holder->send_exit(broker, caf::exit_reason::user_shutdown);
  }
}

TEST_CASE_FIXTURE(broker_env, "a connection returned broken is reopened before the next grant") {
  auto broker = make_broker(sys, db.url(), 1);
  {
    caf::scoped_actor self{sys};
    for (int round = 0; round < 2; ++round) {
      self->request(broker, caf::infinite, lease_request{}).receive(
        [&](connection_lease& lease) {
          CHECK(lease.connection->is_open());
          pqxx::nontransaction tx{*lease.connection};
          CHECK(tx.exec1("SELECT 3")[0].as<int>() == 3);
          self->send(broker, lease_return{lease.id, true});
        },
        [&](caf::error& err) { FAIL(sys.render(err)); });
    }
    CHECK(status(self, broker).reconnects == 1);
    auto final_status = broker_status{};
    self->request(broker, caf::infinite, close_atom::value)
      .receive([&](broker_status& st) { final_status = st; },
               [&](caf::error& err) { FAIL(sys.render(err)); });
    CHECK(final_status.closing);
    CHECK(final_status.leased == 0);
  }
}

TEST_CASE("a broker that cannot connect fails with connect_failed") {
  auto res = resources::open_connections(
    resources::broker_options{"host=127.0.0.1 port=1 connect_timeout=2 user=nobody", 1});
  REQUIRE_FALSE(res);
  CHECK(res.error() == errc::connect_failed);
}

TEST_CASE_FIXTURE(broker_env,
                  "a free slot that cannot be reopened fails the lease at once with "
                  "connect_failed") {
  // One real connection, closed as a database restart would leave it, and a
  // URL nothing answers on: the slot cannot be reopened.
  auto conns = resources::open_connections(resources::broker_options{db.url(), 1});
  REQUIRE(conns);
  (*conns)[0]->disconnect();
  auto broker = sys.spawn(resources::broker,
                          resources::broker_options{
                            "host=127.0.0.1 port=1 connect_timeout=2 user=nobody", 1},
                          std::move(*conns));
  {
    caf::scoped_actor self{sys};
    auto begin = std::chrono::steady_clock::now();
    bool failed = false;
    self->request(broker, caf::infinite, lease_request{1.0, caf::timespan{30s}, "probe"})
      .receive([&](connection_lease&) { FAIL("a lease on an unreachable database"); },
               [&](caf::error& err) {
                 failed = true;
                 CHECK(err == errc::connect_failed);
                 REQUIRE(err.context().match_elements<std::string>());
                 auto text = err.context().get_as<std::string>(0);
                 CHECK(text.find("the database is unreachable") != std::string::npos);
                 CHECK(text.find("cannot open a database connection") != std::string::npos);
               });
    CHECK(failed);
    // At once, not after the 30 s lease timeout.
    CHECK(std::chrono::steady_clock::now() - begin < 10s);
    auto st = status(self, broker);
    CHECK(st.leased == 0);
    CHECK(st.waiting == 0);
    self->send_exit(broker, caf::exit_reason::user_shutdown);
  }
}
