#include "coordinator/inspector.hpp"

#include "actors/executor.hpp"
#include "coordinator/coordinator_actor.hpp"
#include "resources/broker.hpp"
#include "tests/actors/test_executors.hpp"
#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>

using namespace tasker;
using namespace tasker::coordinator;
using namespace tasker::messaging;
using namespace std::chrono_literals;

namespace {

// Counts its batches; touches nothing, so pausing is all that stops it.
class counting_processor : public actors::batch_processor {
public:
  explicit counting_processor(std::shared_ptr<std::atomic<int>> calls) : calls_(std::move(calls)) {}
  actors::batch_outcome process_batch(pqxx::connection&, std::size_t) override {
    ++*calls_;
    return {};
  }
  std::string name() const override { return "counting"; }

private:
  std::shared_ptr<std::atomic<int>> calls_;
};

struct node_config : caf::actor_system_config {
  node_config() {
    load<caf::io::middleman>();
    tasker::messaging::add_message_types(*this);
  }
};

// A real node in this process: broker, coordinator and an inspector
// published on an ephemeral loopback port, reached through remote_actor.
struct live_node {
  // Declared first so it is dropped last: the actor system (and the broker's
  // connections) must be gone before the database is.
  testing::scratch_db db{false};
  node_config cfg;
  caf::actor_system sys{cfg};
  caf::actor broker;
  caf::actor coord;
  caf::actor remote;
  std::shared_ptr<std::vector<caf::actor>> probes = std::make_shared<std::vector<caf::actor>>();
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);

  pool_spec probe_pool(std::string name, std::size_t min, std::size_t max) {
    pool_spec spec;
    spec.options.name = std::move(name);
    spec.options.min = min;
    spec.options.max = max;
    spec.options.detached = false;
    spec.factory = testing::probe_factory(probes);
    return spec;
  }

  pool_spec counting_pool(std::string name) {
    actors::executor_options eo;
    eo.poll_interval = 5ms;
    eo.heartbeat_interval = 50ms;
    pool_spec spec;
    spec.options.name = std::move(name);
    spec.options.detached = false;
    auto counter = calls;
    spec.factory = actors::make_executor_factory(
      eo, [counter] { return std::make_shared<counting_processor>(counter); });
    return spec;
  }

  void start(std::vector<pool_spec> pools) {
    resources::broker_options bo{db.url(), 4};
    auto conns = resources::open_connections(bo);
    REQUIRE(conns);
    broker = sys.spawn(resources::broker, bo, std::move(*conns));
    coordinator_options co;
    co.pools = std::move(pools);
    co.health_interval = 200ms;
    co.scaling_interval = 1h;
    co.shutdown_timeout = 5s;
    coord = sys.spawn(coordinator_actor, std::move(co), broker, caf::actor{});
    auto port = publish_inspector(sys, coord, broker, "127.0.0.1", 0);
    REQUIRE(port);
    CHECK(*port != 0);
    auto hdl = connect_inspector(sys, "127.0.0.1", *port);
    REQUIRE(hdl);
    remote = *hdl;
  }

  template <class T, class... Ts>
  caf::expected<T> ask(Ts&&... xs) {
    caf::expected<T> out = caf::sec::request_timeout;
    caf::scoped_actor self{sys};
    self->request(remote, 10s, std::forward<Ts>(xs)...)
      .receive([&](T& x) { out = std::move(x); }, [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  node_inspection inspect() {
    auto tree = ask<node_inspection>(status_atom::value);
    REQUIRE(tree);
    return *tree;
  }

  // Polls the tree until `pred` holds or 10 s pass; returns the last tree.
  node_inspection inspect_until(const std::function<bool(const node_inspection&)>& pred) {
    auto tree = inspect();
    for (int i = 0; i < 200 && !pred(tree); ++i) {
      std::this_thread::sleep_for(50ms);
      tree = inspect();
    }
    return tree;
  }

  // Polls `pred` every 10 ms for up to 10 s.
  static bool eventually(const std::function<bool()>& pred) {
    for (int i = 0; i < 1000; ++i) {
      if (pred())
        return true;
      std::this_thread::sleep_for(10ms);
    }
    return pred();
  }

  ~live_node() {
    if (coord) {
      caf::scoped_actor self{sys};
      self->request(coord, 20s, shutdown_atom::value)
        .receive([](coordinator_snapshot&) {}, [](caf::error&) {});
    }
    caf::anon_send_exit(broker, caf::exit_reason::user_shutdown);
  }
};

const pool_snapshot* find_pool(const node_inspection& tree, const std::string& name) {
  for (auto& p : tree.snapshot.pools)
    if (p.name == name)
      return &p;
  return nullptr;
}

std::vector<std::uint64_t> executor_ids(const node_inspection& tree, const std::string& pool) {
  std::vector<std::uint64_t> out;
  for (auto& e : tree.snapshot.executors)
    if (e.pool == pool)
      out.push_back(e.id);
  std::sort(out.begin(), out.end());
  return out;
}

// The sentence a refusal carries for people.
std::string error_text(const caf::error& err) {
  const auto& ctx = err.context();
  return ctx.match_elements<std::string>() ? ctx.get_as<std::string>(0) : std::string{};
}

} // namespace

TEST_CASE("the inspector reached over the middleman shows every pool and executor started") {
  live_node node;
  node.start({node.probe_pool("alpha", 2, 4), node.probe_pool("beta", 1, 2)});
  auto tree = node.inspect_until([](const node_inspection& t) {
    return t.snapshot.executors.size() == 3 && t.broker_answered;
  });
  CHECK(tree.coordinator == node.coord.id());
  CHECK(tree.broker == node.broker.id());
  CHECK(tree.broker_answered);
  CHECK(tree.broker_now.size == 4);
  REQUIRE(tree.snapshot.pools.size() == 2);
  REQUIRE(find_pool(tree, "alpha") != nullptr);
  CHECK(find_pool(tree, "alpha")->executors == 2);
  CHECK(find_pool(tree, "alpha")->min == 2);
  CHECK(find_pool(tree, "alpha")->max == 4);
  CHECK(find_pool(tree, "beta")->executors == 1);
  std::vector<std::uint64_t> spawned;
  for (auto& p : *node.probes)
    spawned.push_back(p.id());
  std::sort(spawned.begin(), spawned.end());
  auto all = executor_ids(tree, "alpha");
  auto beta = executor_ids(tree, "beta");
  all.insert(all.end(), beta.begin(), beta.end());
  std::sort(all.begin(), all.end());
  CHECK(all == spawned);
}

TEST_CASE("pool scale resizes a pool within its bounds and refuses sizes outside them") {
  live_node node;
  node.start({node.probe_pool("alpha", 1, 3)});
  auto scaled = node.ask<pool_snapshot>(pool_scale{"alpha", 3, false});
  REQUIRE(scaled);
  CHECK(scaled->target == 3);
  CHECK(scaled->manual);
  auto tree = node.inspect_until([](const node_inspection& t) {
    auto p = find_pool(t, "alpha");
    return p != nullptr && p->executors == 3;
  });
  CHECK(find_pool(tree, "alpha")->executors == 3);
  CHECK(find_pool(tree, "alpha")->manual);

  auto too_big = node.ask<pool_snapshot>(pool_scale{"alpha", 4, false});
  REQUIRE_FALSE(too_big);
  CHECK(too_big.error() == make_error(errc::out_of_range));
  CHECK(error_text(too_big.error()).find("outside [1, 3]") != std::string::npos);
  auto unknown = node.ask<pool_snapshot>(pool_scale{"gamma", 1, false});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error() == make_error(errc::unknown_pool));

  auto down = node.ask<pool_snapshot>(pool_scale{"alpha", 1, false});
  REQUIRE(down);
  tree = node.inspect_until([](const node_inspection& t) {
    return find_pool(t, "alpha")->executors == 1;
  });
  CHECK(find_pool(tree, "alpha")->executors == 1);
  auto automatic = node.ask<pool_snapshot>(pool_scale{"alpha", 0, true});
  REQUIRE(automatic);
  CHECK_FALSE(automatic->manual);
}

TEST_CASE("a paused pool runs no batches but keeps heartbeating, and resumes on request") {
  live_node node;
  node.start({node.counting_pool("worker")});
  REQUIRE(live_node::eventually([&] { return node.calls->load() > 3; }));
  auto paused = node.ask<pool_snapshot>(pool_pause{"worker", true});
  REQUIRE(paused);
  CHECK(paused->paused);
  auto tree = node.inspect_until([](const node_inspection& t) {
    return t.snapshot.executors.size() == 1 && t.snapshot.executors[0].paused;
  });
  REQUIRE(tree.snapshot.executors.size() == 1);
  CHECK(tree.snapshot.executors[0].paused);
  auto before = node.calls->load();
  std::this_thread::sleep_for(300ms);
  CHECK(node.calls->load() == before);
  // Still heartbeating: the last beat is younger than the pause.
  tree = node.inspect();
  REQUIRE(tree.snapshot.executors.size() == 1);
  CHECK(tree.snapshot.executors[0].since_heartbeat < caf::timespan{250ms});

  auto resumed = node.ask<pool_snapshot>(pool_pause{"worker", false});
  REQUIRE(resumed);
  CHECK_FALSE(resumed->paused);
  CHECK(live_node::eventually([&] { return node.calls->load() > before + 3; }));
}

TEST_CASE("node drain shuts the coordinator down and the inspector goes with it") {
  live_node node;
  node.start({node.probe_pool("alpha", 2, 2)});
  caf::scoped_actor watcher{node.sys};
  watcher->monitor(node.coord);
  watcher->monitor(node.remote);
  auto begun = node.ask<coordinator_snapshot>(drain_atom::value);
  REQUIRE(begun);
  CHECK(begun->shutting_down);
  int downs = 0;
  bool timed_out = false;
  while (downs < 2 && !timed_out)
    watcher->receive([&](caf::down_msg&) { ++downs; },
                     caf::after(std::chrono::seconds{10}) >> [&] { timed_out = true; });
  CHECK(downs == 2);
  CHECK_FALSE(timed_out);
  auto after = node.ask<pool_snapshot>(pool_scale{"alpha", 2, false});
  CHECK_FALSE(after);
  node.coord = caf::actor{};
}
