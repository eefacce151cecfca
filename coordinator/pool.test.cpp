#include "coordinator/pool.hpp"

#include "tests/actors/test_executors.hpp"

#include "tests/support/caf_doctest_bridge.hpp"

using namespace tasker;
using namespace tasker::coordinator;
using namespace tasker::messaging;
using namespace std::chrono_literals;

namespace {

using pool_actor = caf::stateful_actor<pool_state>;

struct pool_fixture : test_coordinator_fixture<> {
  testing::message_log log = std::make_shared<std::vector<caf::message>>();
  caf::actor coordinator = sys.spawn(testing::recorder, log);
  std::shared_ptr<std::vector<caf::actor>> spawned = std::make_shared<std::vector<caf::actor>>();
  caf::actor pool_hdl;

  caf::actor start(std::size_t min, std::size_t max, bool ignore_stop = false,
                   restart_settings restart = {}) {
    pool_options opts;
    opts.name = "task_claimer";
    opts.min = min;
    opts.max = max;
    opts.detached = false;
    opts.stop_timeout = 10s;
    opts.restart = restart;
    pool_hdl = sys.spawn(pool, opts, pool_peers{coordinator, {}, {}},
                         testing::probe_factory(spawned, ignore_stop));
    sched.run();
    return pool_hdl;
  }

  pool_state& state() { return deref<pool_actor>(pool_hdl).state; }

  std::size_t active() {
    std::size_t n = 0;
    for (auto& m : state().members)
      n += m.draining ? 0 : 1;
    return n;
  }

  ~pool_fixture() {
    for (auto& hdl : *spawned)
      self->send_exit(hdl, caf::exit_reason::kill);
    self->send_exit(pool_hdl, caf::exit_reason::kill);
    self->send_exit(coordinator, caf::exit_reason::kill);
    sched.run();
  }
};

} // namespace

TEST_CASE_FIXTURE(pool_fixture, "a pool spawns its minimum and announces each executor") {
  start(2, 4);
  CHECK(spawned->size() == 2);
  CHECK(state().members.size() == 2);
  auto joined = testing::received<executor_joined>(log);
  REQUIRE(joined.size() == 2);
  CHECK(joined[0].pool == "task_claimer");
  CHECK(joined[0].executor == (*spawned)[0].id());
}

TEST_CASE_FIXTURE(pool_fixture, "a crashed executor is restarted") {
  start(2, 4);
  auto victim = (*spawned)[0];
  self->send(victim, testing::crash_atom::value);
  sched.run();
  CHECK(state().restarts == 1);
  CHECK(state().members.size() == 2);
  CHECK(spawned->size() == 3);
  for (auto& m : state().members)
    CHECK(m.handle != victim);
  CHECK(testing::received<executor_left>(log).size() == 1);
  CHECK(testing::received<executor_joined>(log).size() == 3);
}

TEST_CASE_FIXTURE(pool_fixture, "restart intensity escalates to the coordinator and marks the "
                                "pool failed") {
  start(1, 2, false, restart_settings{2, std::chrono::seconds{5}});
  for (int i = 0; i < 3; ++i) {
    self->send(spawned->back(), testing::crash_atom::value);
    sched.run();
  }
  CHECK(state().failed);
  CHECK(state().restarts == 2);
  auto failed = testing::received<pool_failed>(log);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].pool == "task_claimer");
  CHECK(state().members.empty());
  // A failed pool refuses to grow.
  self->send(pool_hdl, scale_up{1});
  sched.run();
  CHECK(state().members.empty());
}

TEST_CASE_FIXTURE(pool_fixture, "crashes spread beyond the restart period do not escalate") {
  start(1, 2, false, restart_settings{1, std::chrono::seconds{5}});
  for (int i = 0; i < 3; ++i) {
    self->send(spawned->back(), testing::crash_atom::value);
    sched.run();
    advance_time(std::chrono::seconds{6});
    sched.run();
  }
  CHECK_FALSE(state().failed);
  CHECK(state().restarts == 3);
  CHECK(state().members.size() == 1);
}

TEST_CASE_FIXTURE(pool_fixture, "scaling stays within min and max and scale-down drains") {
  start(1, 3);
  self->send(pool_hdl, scale_up{5});
  sched.run();
  CHECK(active() == 3);
  CHECK(spawned->size() == 3);
  self->send(pool_hdl, scale_down{5});
  sched.run();
  CHECK(active() == 1);
  // The drained executors obeyed the stop request and are gone.
  CHECK(state().members.size() == 1);
  CHECK(state().restarts == 0);
  CHECK(testing::received<executor_left>(log).size() == 2);
}

TEST_CASE_FIXTURE(pool_fixture, "an executor still draining after the stop timeout is killed") {
  start(1, 2, true);
  self->send(pool_hdl, scale_up{1});
  sched.run();
  self->send(pool_hdl, scale_down{1});
  sched.run();
  CHECK(state().members.size() == 2); // the stubborn executor ignores the stop
  advance_time(std::chrono::seconds{10});
  sched.run();
  CHECK(state().members.size() == 1);
  CHECK(state().restarts == 0);
}

TEST_CASE_FIXTURE(pool_fixture, "a recycle request spawns a successor and drains the old "
                                "executor") {
  start(1, 1);
  auto old = (*spawned)[0];
  self->send(pool_hdl, recycle_request{old.id(), "max_batches"});
  sched.run();
  CHECK(state().recycled == 1);
  REQUIRE(state().members.size() == 1);
  CHECK(state().members[0].handle != old);
  CHECK(state().restarts == 0);
}

TEST_CASE_FIXTURE(pool_fixture, "a replace request kills the stale executor and spawns a "
                                "successor") {
  start(2, 2);
  auto stale = (*spawned)[1];
  self->send(pool_hdl, replace_executor{stale.id(), "stale heartbeat"});
  sched.run();
  CHECK(state().replaced == 1);
  CHECK(state().members.size() == 2);
  for (auto& m : state().members)
    CHECK(m.handle != stale);
  CHECK(state().restarts == 0);
}

TEST_CASE_FIXTURE(pool_fixture, "backpressure is forwarded to every executor") {
  start(3, 3);
  self->send(pool_hdl, backpressure{0.25});
  sched.run();
  for (auto& hdl : *spawned)
    CHECK(deref<caf::stateful_actor<testing::probe_state>>(hdl).state.backpressure == 0.25);
  // A later executor starts with the factor in force.
  self->send((*spawned)[0], testing::crash_atom::value);
  sched.run();
  CHECK(deref<caf::stateful_actor<testing::probe_state>>(spawned->back()).state.backpressure
        == 0.25);
}

TEST_CASE_FIXTURE(pool_fixture, "a graceful stop drains every executor before the pool "
                                "replies") {
  start(2, 2);
  auto reply = std::make_shared<std::optional<pool_status>>();
  auto target = pool_hdl;
  auto asker = sys.spawn([reply, target](caf::event_based_actor* a) {
    a->request(target, caf::infinite, stop_request{true})
      .then([reply](const pool_status& st) { *reply = st; });
  });
  sched.run();
  REQUIRE(reply->has_value());
  CHECK((*reply)->members.empty());
  for (auto& hdl : *spawned)
    CHECK(deref<caf::stateful_actor<testing::probe_state>>(hdl).state.stops == 1);
  CHECK(state().restarts == 0);
}
