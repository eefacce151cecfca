#include "coordinator/coordinator_actor.hpp"

#include "actors/executor.hpp"
#include "resources/broker.hpp"
#include "tests/actors/test_executors.hpp"
#include "tests/support/scratch_db.hpp"

#include "tests/support/caf_doctest_bridge.hpp"

#include <algorithm>

using namespace tasker;
using namespace tasker::coordinator;
using namespace tasker::messaging;
using namespace std::chrono_literals;

namespace {

using coordinator_ptr = caf::stateful_actor<coordinator_state>;
using probe_actor = caf::stateful_actor<testing::probe_state>;

struct coordinator_fixture : test_coordinator_fixture<> {
  std::optional<tasker::testing::scratch_db> db;
  caf::actor broker;
  caf::actor coord;
  std::shared_ptr<std::vector<caf::actor>> probes = std::make_shared<std::vector<caf::actor>>();

  void start_broker(std::size_t size) {
    db.emplace(false);
    resources::broker_options opts{db->url(), size};
    auto conns = resources::open_connections(opts);
    REQUIRE(conns);
    broker = sys.spawn(resources::broker, opts, std::move(*conns));
    sched.run();
  }

  // Options with timers of one virtual second and staleness out of the way.
  static coordinator_options options() {
    coordinator_options o;
    o.health_interval = 1s;
    o.scaling_interval = 1s;
    o.utilization_window = 2s;
    o.health.heartbeat_interval = 1h;
    o.scaling.scaling_interval = 1s;
    o.scaling.cooldown = 3s;
    o.scaling.required_consecutive = 2;
    return o;
  }

  pool_spec probe_pool(std::string name, std::size_t min, std::size_t max, double weight = 1.0) {
    pool_spec spec;
    spec.options.name = std::move(name);
    spec.options.min = min;
    spec.options.max = max;
    spec.options.resource_weight = weight;
    spec.options.detached = false;
    spec.factory = testing::probe_factory(probes);
    return spec;
  }

  void start(coordinator_options o) {
    coord = sys.spawn(coordinator_actor, std::move(o), broker, caf::actor{});
    sched.run();
  }

  coordinator_state& state() { return deref<coordinator_ptr>(coord).state; }

  void tick(caf::timespan d = 1s) {
    advance_time(d);
    sched.run();
  }

  // Reports `busy` out of every second for each live executor of `pool`.
  void report_load(const std::string& pool, caf::timespan busy) {
    for (auto& [id, rec] : state().executors)
      if (rec.pool == pool) {
        heartbeat m;
        m.pool = pool;
        m.executor = id;
        m.state = executor_state::healthy;
        m.busy = busy;
        m.wall = 1s;
        self->send(coord, m);
      }
    sched.run();
  }

  std::size_t live(const std::string& pool) {
    auto hdl = state().pools.at(pool).handle;
    std::size_t n = 0;
    for (auto& m : deref<caf::stateful_actor<pool_state>>(hdl).state.members)
      n += m.draining ? 0 : 1;
    return n;
  }

  std::optional<coordinator_snapshot> shutdown() {
    auto reply = std::make_shared<std::optional<coordinator_snapshot>>();
    auto target = coord;
    sys.spawn([reply, target](caf::event_based_actor* a) {
      a->request(target, caf::infinite, shutdown_atom::value)
        .then([reply](const coordinator_snapshot& s) { *reply = s; });
    });
    sched.run();
    return *reply;
  }

  ~coordinator_fixture() {
    if (coord)
      for (auto& [name, pool] : state().pools)
        self->send_exit(pool.handle, caf::exit_reason::kill);
    for (auto& hdl : *probes)
      self->send_exit(hdl, caf::exit_reason::kill);
    for (auto& hdl : {coord, broker})
      if (hdl)
        self->send_exit(hdl, caf::exit_reason::kill);
    sched.run();
  }
};

std::vector<std::string> event_kinds(const coordinator_snapshot& s) {
  std::vector<std::string> out;
  for (auto& e : s.events)
    out.push_back(e.kind);
  return out;
}

} // namespace

TEST_CASE_FIXTURE(coordinator_fixture, "heartbeats from every executor reach the coordinator") {
  start_broker(2);
  auto o = options();
  actors::executor_options eo;
  eo.heartbeat_interval = 1s;
  eo.poll_interval = 500ms;
  auto script = std::make_shared<testing::processor_script>();
  pool_spec spec;
  spec.options.name = "task_claimer";
  spec.options.min = spec.options.max = 2;
  spec.options.detached = false;
  spec.factory = actors::make_executor_factory(
    eo, [script] { return std::make_shared<testing::scripted_processor>(script); });
  o.pools.push_back(spec);
  o.auto_scaling = false;
  start(o);
  REQUIRE(state().executors.size() == 2);
  tick(500ms);
  tick(500ms);
  for (auto& [id, rec] : state().executors) {
    CHECK(rec.last_heartbeat.has_value());
    CHECK(rec.state == health_state::healthy);
    CHECK(rec.batches >= 2);
  }
  CHECK(script->queries >= 4);
  auto final_snapshot = shutdown();
  REQUIRE(final_snapshot);
  coord = nullptr;
}

TEST_CASE_FIXTURE(coordinator_fixture, "a stale heartbeat gets the executor replaced") {
  auto o = options();
  o.health.heartbeat_interval = 1s;
  o.health.stale_after_intervals = 3;
  o.auto_scaling = false;
  o.pools.push_back(probe_pool("task_finalizer", 1, 1));
  start(o);
  auto first = probes->at(0);
  for (int i = 0; i < 3; ++i)
    tick();
  CHECK(probes->size() == 1); // 3s of silence is not yet stale
  tick();
  REQUIRE(probes->size() == 2);
  auto& pst = deref<caf::stateful_actor<pool_state>>(state().pools.at("task_finalizer").handle).state;
  CHECK(pst.replaced == 1);
  REQUIRE(pst.members.size() == 1);
  CHECK(pst.members[0].handle != first);
  CHECK(state().executors.count(first.id()) == 0);
  auto& events = state().events;
  CHECK(std::count_if(events.begin(), events.end(),
                      [](const runtime_event& e) { return e.kind == "replace"; })
        == 1);
}

TEST_CASE_FIXTURE(coordinator_fixture, "sustained high utilization scales up, idleness scales "
                                       "down, and the bounds hold") {
  auto o = options();
  o.pools.push_back(probe_pool("step_enqueuer", 1, 3));
  start(o);
  for (int i = 0; i < 12; ++i) {
    report_load("step_enqueuer", 950ms);
    tick();
    CHECK(live("step_enqueuer") <= 3);
  }
  CHECK(live("step_enqueuer") == 3);
  CHECK(state().pools.at("step_enqueuer").scale_ups >= 1);
  for (int i = 0; i < 12; ++i) {
    report_load("step_enqueuer", 0ms);
    tick();
    CHECK(live("step_enqueuer") >= 1);
  }
  CHECK(live("step_enqueuer") == 1);
  CHECK(state().pools.at("step_enqueuer").scale_downs >= 1);
}

TEST_CASE_FIXTURE(coordinator_fixture, "a saturated host CPU holds scale-ups and says so once") {
  auto cpu = std::make_shared<std::optional<double>>(0.97);
  auto o = options();
  o.host_cpu = [cpu] { return *cpu; };
  o.pools.push_back(probe_pool("step_enqueuer", 1, 3));
  start(o);
  auto held_events = [&] {
    auto& events = state().events;
    return std::count_if(events.begin(), events.end(),
                         [](const runtime_event& e) { return e.kind == "scale_up_held"; });
  };
  for (int i = 0; i < 6; ++i) {
    report_load("step_enqueuer", 950ms);
    tick();
  }
  CHECK(live("step_enqueuer") == 1);
  CHECK(state().pools.at("step_enqueuer").scale_ups == 0);
  CHECK(held_events() == 1);
  CHECK(state().events.back().detail.find("host CPU 97%") != std::string::npos);
  // The cores free up: the pool grows after the usual hysteresis.
  *cpu = 0.4;
  for (int i = 0; i < 3; ++i) {
    report_load("step_enqueuer", 950ms);
    tick();
  }
  CHECK(live("step_enqueuer") > 1);
  CHECK(held_events() == 1);
}

TEST_CASE_FIXTURE(coordinator_fixture, "cooldown and hysteresis prevent oscillation under a "
                                       "load that alternates") {
  auto o = options();
  o.utilization_window = 1s;
  o.pools.push_back(probe_pool("step_enqueuer", 1, 3));
  start(o);
  for (int i = 0; i < 16; ++i) {
    report_load("step_enqueuer", i % 2 == 0 ? 1000ms : 0ms);
    tick();
  }
  auto& pool = state().pools.at("step_enqueuer");
  CHECK(pool.scale_ups == 0);
  CHECK(pool.scale_downs == 0);
  CHECK(live("step_enqueuer") == 1);
}

TEST_CASE_FIXTURE(coordinator_fixture, "a scale-up past the budget is refused and the heavier "
                                       "pool wins") {
  auto o = options();
  o.executor_budget = 3;
  o.pools.push_back(probe_pool("light", 1, 3, 1.0));
  o.pools.push_back(probe_pool("heavy", 1, 3, 2.0));
  start(o);
  for (int i = 0; i < 3; ++i) {
    report_load("light", 950ms);
    report_load("heavy", 950ms);
    tick();
  }
  CHECK(live("heavy") == 2);
  CHECK(live("light") == 1);
  CHECK(state().pools.at("light").refused_scale_ups >= 1);
  CHECK(state().pools.at("heavy").refused_scale_ups == 0);
  CHECK(live("heavy") + live("light") <= 3);
}

TEST_CASE_FIXTURE(coordinator_fixture, "backpressure from broker saturation reaches every "
                                       "executor and is released") {
  start_broker(2);
  auto o = options();
  o.auto_scaling = false;
  o.pools.push_back(probe_pool("task_claimer", 2, 2));
  o.pools.push_back(probe_pool("task_finalizer", 1, 1));
  start(o);
  // The test itself holds both connections: saturation 1.0.
  self->send(broker, lease_request{});
  self->send(broker, lease_request{});
  sched.run();
  std::vector<connection_lease> held;
  for (int i = 0; i < 2; ++i)
    self->receive([&](connection_lease& l) { held.push_back(l); });
  tick();
  for (auto& hdl : *probes)
    CHECK(deref<probe_actor>(hdl).state.backpressure < 1.0);
  CHECK(state().backpressure.engaged());
  for (auto& l : held)
    self->send(broker, lease_return{l.id, false});
  sched.run();
  tick();
  for (auto& hdl : *probes)
    CHECK(deref<probe_actor>(hdl).state.backpressure == 1.0);
  CHECK_FALSE(state().backpressure.engaged());
}

TEST_CASE_FIXTURE(coordinator_fixture, "shutdown drains every executor before the broker "
                                       "closes") {
  start_broker(2);
  auto o = options();
  actors::executor_options eo;
  eo.poll_interval = 500ms;
  auto script = std::make_shared<testing::processor_script>();
  pool_spec spec;
  spec.options.name = "step_result_processor";
  spec.options.min = spec.options.max = 2;
  spec.options.detached = false;
  spec.factory = actors::make_executor_factory(
    eo, [script] { return std::make_shared<testing::scripted_processor>(script); });
  o.pools.push_back(spec);
  start(o);
  tick(500ms);
  auto executors = state().executors;
  auto final_snapshot = shutdown();
  REQUIRE(final_snapshot);
  auto kinds = event_kinds(*final_snapshot);
  auto at = [&](const char* kind) {
    return std::find(kinds.begin(), kinds.end(), kind) - kinds.begin();
  };
  REQUIRE(at("pools_drained") < static_cast<long>(kinds.size()));
  REQUIRE(at("broker_closed") < static_cast<long>(kinds.size()));
  CHECK(at("shutdown") < at("pools_drained"));
  CHECK(at("pools_drained") < at("broker_closed"));
  CHECK(final_snapshot->broker.closing);
  CHECK(final_snapshot->broker.leased == 0);
  CHECK(final_snapshot->executors.empty());
  coord = nullptr;
  broker = nullptr;
}
