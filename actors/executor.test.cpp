#include "actors/executor.hpp"

#include "coordinator/pool.hpp"
#include "resources/broker.hpp"
#include "tests/actors/test_executors.hpp"
#include "tests/support/scratch_db.hpp"

#include "tests/support/caf_doctest_bridge.hpp"

using namespace tasker;
using namespace tasker::messaging;
using namespace std::chrono_literals;

namespace {

using executor_actor = caf::stateful_actor<actors::executor_actor_state>;
using broker_actor = caf::stateful_actor<resources::broker_state>;

struct executor_fixture : test_coordinator_fixture<> {
  tasker::testing::scratch_db db{false};
  testing::message_log log = std::make_shared<std::vector<caf::message>>();
  testing::message_log pool_log = std::make_shared<std::vector<caf::message>>();
  caf::actor coordinator = sys.spawn(testing::recorder, log);
  caf::actor pool_stub = sys.spawn(testing::recorder, pool_log);
  std::shared_ptr<testing::processor_script> script
    = std::make_shared<testing::processor_script>();
  caf::actor broker;
  caf::actor exec;

  executor_fixture() {
    resources::broker_options opts{db.url(), 1};
    auto conns = resources::open_connections(opts);
    REQUIRE(conns);
    broker = sys.spawn(resources::broker, opts, std::move(*conns));
    sched.run();
  }

  static actors::executor_options options() {
    actors::executor_options o;
    o.batch_size = 10;
    o.poll_interval = 100ms;
    o.heartbeat_interval = 1h;
    return o;
  }

  caf::actor start(actors::executor_options o) {
    coordinator::spawn_context ctx{"task_claimer", pool_stub, coordinator, broker, {},
                                   1.0,            1.0,       false};
    exec = sys.spawn(actors::executor, o, ctx,
                     std::make_shared<testing::scripted_processor>(script));
    sched.run();
    return exec;
  }

  actors::executor_actor_state& state() { return deref<executor_actor>(exec).state; }

  // One poll period of virtual time, then every message it caused.
  void poll_once(caf::timespan d = 100ms) {
    advance_time(d);
    sched.run();
  }

  ~executor_fixture() {
    for (auto& hdl : {exec, broker, coordinator, pool_stub})
      if (hdl)
        self->send_exit(hdl, caf::exit_reason::kill);
    sched.run();
  }
};

} // namespace

TEST_CASE_FIXTURE(executor_fixture, "an executor runs its batches on leased connections and "
                                    "returns every lease") {
  start(options());
  CHECK(script->calls == 1);
  CHECK(script->queries == 1);
  poll_once();
  poll_once();
  CHECK(script->calls == 3);
  CHECK(script->queries == 3);
  auto& b = deref<broker_actor>(broker).state;
  CHECK(b.grants == 3);
  CHECK_FALSE(b.slots[0].leased);
}

TEST_CASE_FIXTURE(executor_fixture, "heartbeats and metrics carry busy and wall time to the "
                                    "coordinator") {
  auto o = options();
  o.heartbeat_interval = 1s;
  o.poll_interval = 1s;
  script->items_per_batch = 4;
  // Each batch takes 250ms of (virtual) time.
  script->during_batch = [this](std::size_t) { sched.clock().current_time += 250ms; };
  start(o);
  poll_once(750ms); // the heartbeat is due 1s after spawn
  auto beats = testing::received<heartbeat>(log);
  REQUIRE(beats.size() == 1); // one message carries the state and the counters
  CHECK(beats[0].pool == "task_claimer");
  CHECK(beats[0].executor == exec.id());
  CHECK(beats[0].state == executor_state::healthy);
  CHECK(beats[0].reason.empty());
  CHECK(beats[0].items == 4);
  CHECK(beats[0].batches == 1);
  CHECK(beats[0].busy == caf::timespan{250ms});
  CHECK(beats[0].wall == caf::timespan{1s});
  CHECK(beats[0].mean_batch_latency == caf::timespan{250ms});
}

TEST_CASE_FIXTURE(executor_fixture, "a full batch runs the next at once and an idle one waits "
                                    "for the poll interval") {
  script->items_per_batch = 10;
  auto o = options();
  o.poll_interval = 10s;
  coordinator::spawn_context ctx{"task_claimer", pool_stub, coordinator, broker, {}, 1.0, 1.0,
                                 false};
  exec = sys.spawn(actors::executor, o, ctx,
                   std::make_shared<testing::scripted_processor>(script));
  sched.run(40); // full batches chain without any timer
  CHECK(script->calls >= 3);
  script->items_per_batch = 0;
  sched.run();
  auto calls = script->calls;
  sched.run();
  CHECK(script->calls == calls); // idle: nothing until the poll interval passes
  poll_once(10s);
  CHECK(script->calls == calls + 1);
}

TEST_CASE_FIXTURE(executor_fixture, "a wake runs the next batch before the poll interval") {
  auto o = options();
  o.poll_interval = 1h;
  start(o);
  CHECK(script->calls == 1);
  self->send(exec, wake{"orchestration_step_results"});
  sched.run();
  CHECK(script->calls == 2);
}

TEST_CASE_FIXTURE(executor_fixture, "backpressure shrinks the batch and stretches the poll "
                                    "interval") {
  start(options());
  CHECK(script->last_max_items == 10);
  self->send(exec, backpressure{0.5});
  sched.run();
  poll_once(100ms); // the timer armed before the factor changed
  CHECK(script->last_max_items == 5);
  auto calls = script->calls;
  poll_once(100ms);
  CHECK(script->calls == calls); // now 200ms between polls
  poll_once(100ms);
  CHECK(script->calls == calls + 1);
}

TEST_CASE_FIXTURE(executor_fixture, "a breaker opens after repeated failures, probes once after "
                                    "its timeout and closes after successes") {
  auto o = options();
  o.breaker.failure_threshold = 3;
  o.breaker.open_timeout = 5s;
  o.breaker.success_threshold = 2;
  script->throw_message = "relation does not exist";
  start(o);
  poll_once();
  poll_once();
  CHECK(script->calls == 3);
  CHECK(state().errors == 3);
  CHECK(state().breaker.state() == coordinator::breaker_state::open);
  // Open: no lease, no query, however many polls pass.
  for (int i = 0; i < 10; ++i)
    poll_once();
  CHECK(script->calls == 3);
  CHECK(script->queries == 3);
  CHECK(deref<broker_actor>(broker).state.grants == 3);
  // After the timeout exactly one probe runs; it succeeds.
  script->throw_message.reset();
  poll_once(4s);
  CHECK(script->calls == 4);
  CHECK(state().breaker.state() == coordinator::breaker_state::half_open);
  poll_once();
  CHECK(script->calls == 5);
  CHECK(state().breaker.state() == coordinator::breaker_state::closed);
  CHECK(exec); // still running: a failure is not a crash
}

TEST_CASE_FIXTURE(executor_fixture, "a graceful stop returns a lease that is still on its way") {
  start(options());
  self->monitor(exec);
  advance_time(100ms);
  while (!state().lease_pending)
    sched.run_once();
  self->send(exec, stop_request{true});
  sched.run();
  CHECK(script->calls == 1); // the granted lease was not used
  CHECK_FALSE(deref<broker_actor>(broker).state.slots[0].leased);
  caf::error reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; });
  CHECK(reason == executor_exit::drained);
  exec = nullptr;
}

TEST_CASE_FIXTURE(executor_fixture, "an executor past its lifetime is recycled by its pool "
                                    "without losing its batch") {
  auto o = options();
  o.recycle.max_lifetime = 1s;
  coordinator::pool_options popts;
  popts.name = "task_claimer";
  popts.min = popts.max = 1;
  popts.detached = false;
  auto factory = actors::make_executor_factory(
    o, [this] { return std::make_shared<testing::scripted_processor>(script); });
  auto pool = sys.spawn(coordinator::pool, popts,
                        coordinator::pool_peers{coordinator, broker, {}}, factory);
  sched.run();
  auto& pst = deref<caf::stateful_actor<coordinator::pool_state>>(pool).state;
  REQUIRE(pst.members.size() == 1);
  auto first = pst.members[0].handle;
  for (int i = 0; i < 11; ++i)
    poll_once();
  CHECK(pst.recycled == 1);
  CHECK(pst.restarts == 0);
  REQUIRE(pst.members.size() == 1);
  CHECK(pst.members[0].handle != first);
  CHECK_FALSE(deref<broker_actor>(broker).state.slots[0].leased);
  self->send_exit(pool, caf::exit_reason::kill);
  sched.run();
}

TEST_CASE("fault injection is read from the environment's text and rejects nonsense") {
  auto off = actors::fault_injection_from(nullptr, nullptr);
  CHECK_FALSE(off.enabled());
  CHECK_FALSE(actors::fault_injection_from("0", "").enabled());
  auto on = actors::fault_injection_from("0.25", "42");
  CHECK(on.enabled());
  CHECK(on.batch_failure_rate == 0.25);
  CHECK(on.seed == 42);
  CHECK_THROWS_AS(actors::fault_injection_from("1.5", nullptr), std::invalid_argument);
  CHECK_THROWS_AS(actors::fault_injection_from("lots", nullptr), std::invalid_argument);
  CHECK_THROWS_AS(actors::fault_injection_from("nan", nullptr), std::invalid_argument);
  CHECK_THROWS_AS(actors::fault_injection_from("0.1", "-3"), std::invalid_argument);
}

TEST_CASE_FIXTURE(executor_fixture, "an injected batch failure crashes the executor after a "
                                    "batch that did work and the broker reclaims its lease") {
  auto o = options();
  o.faults.batch_failure_rate = 1.0;
  o.faults.min_age = caf::timespan{0};
  start(o); // an idle batch never crashes
  CHECK(script->calls == 1);
  auto& b = deref<broker_actor>(broker).state;
  CHECK(b.reclaimed == 0);
  CHECK(b.grants == 1);
  script->items_per_batch = 3;
  poll_once();
  CHECK(script->calls == 2);
  CHECK(b.reclaimed == 1);
  CHECK_FALSE(b.slots[0].leased);
  // The executor is gone: no further batch runs.
  poll_once();
  poll_once();
  CHECK(script->calls == 2);
  CHECK(b.grants == 2);
}

TEST_CASE_FIXTURE(executor_fixture, "a database the broker cannot reach counts as failed batches "
                                    "and opens the breaker") {
  // The fixture's broker is replaced by one whose only slot was closed (as a
  // database restart leaves it) and cannot be reopened.
  self->send_exit(broker, caf::exit_reason::kill);
  sched.run();
  auto conns = resources::open_connections(resources::broker_options{db.url(), 1});
  REQUIRE(conns);
  (*conns)[0]->disconnect();
  broker = sys.spawn(resources::broker,
                     resources::broker_options{
                       "host=127.0.0.1 port=1 connect_timeout=2 user=nobody", 1},
                     std::move(*conns));
  sched.run();
  auto o = options();
  o.breaker.failure_threshold = 3;
  o.breaker.open_timeout = 5s;
  start(o);
  poll_once();
  poll_once();
  CHECK(state().errors == 3);
  CHECK(state().breaker.state() == coordinator::breaker_state::open);
  CHECK(script->calls == 0); // no batch ever ran
  CHECK(exec);
}

TEST_CASE_FIXTURE(executor_fixture, "under a backlog batches double up to max_batch_size and "
                                    "shrink back when one is not full") {
  auto o = options();
  o.max_batch_size = 40;
  o.poll_interval = 1h;
  std::vector<std::size_t> asked;
  script->items_per_batch = 1000; // a backlog: every batch is full
  script->during_batch = [&](std::size_t max_items) {
    asked.push_back(max_items);
    if (asked.size() == 4)
      script->items_per_batch = 5; // the backlog is gone
  };
  start(o);
  sched.run(); // full batches chain at once
  CHECK(asked == std::vector<std::size_t>{10, 20, 40, 40});
  CHECK(state().growth.size() == 10);
  poll_once(1h); // the last one was not full: the next waits, at the base size
  CHECK(asked == std::vector<std::size_t>{10, 20, 40, 40, 10});
}
