#include "node/node.hpp"

#include "config/loader.hpp"
#include "coordinator/inspector.hpp"
#include "messaging/queue_client.hpp"
#include "resources/store_nodes.hpp"
#include "tests/support/scratch_db.hpp"
#include "tests/support/source_tree.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

using namespace tasker;

namespace {

config::tasker_config test_config(const std::string& url) {
  config::tasker_config cfg;
  cfg.database.url = url;
  cfg.database.pool.max_connections = 10;
  cfg.database.pool.reserved_connections = 3;
  for (auto& [type, pool] : cfg.pools) {
    pool.min_executors = 1;
    pool.max_executors = 1;
    pool.polling_interval_ms = 20;
  }
  cfg.coordinator.health_check_interval_seconds = 1;
  cfg.coordinator.scaling_interval_seconds = 1;
  cfg.orchestration.drain_timeout_seconds = 20;
  cfg.telemetry.http.port = 0;
  return cfg;
}

// The shipped `test` environment on `url`: HTTP and inspector on free ports.
config::tasker_config test_environment(const std::string& url) {
  config::load_options o;
  o.config_dir = testing::source_dir() / "config";
  o.environment = "test";
  o.variables = config::env_map{};
  o.database_url = url;
  auto cfg = config::load_config(o).config;
  cfg.telemetry.inspector.enabled = true;
  REQUIRE(cfg.telemetry.http.port == 0);
  REQUIRE(cfg.telemetry.inspector.port == 0);
  return cfg;
}

std::optional<resources::node_record> row_of(tasker::testing::scratch_db& db,
                                             const std::string& node_id) {
  auto conn = db.connect();
  pqxx::work tx{conn};
  for (auto& r : resources::list_nodes(tx))
    if (r.node.node_id == node_id)
      return r;
  return std::nullopt;
}

// Polls `pred` for up to 10 s.
bool eventually(const std::function<bool()>& pred) {
  for (int i = 0; i < 200; ++i) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  return pred();
}

// A separate actor system, as `taskerctl` would have, asking the inspector.
struct inspector_client {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor remote;

  explicit inspector_client(std::uint16_t port) {
    cfg.load<caf::io::middleman>();
    messaging::add_message_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    auto hdl = coordinator::connect_inspector(*sys, "127.0.0.1", port);
    REQUIRE(hdl);
    remote = *hdl;
  }

  template <class T, class... Ts>
  std::optional<T> ask(Ts&&... xs) {
    std::optional<T> out;
    caf::scoped_actor self{*sys};
    self->request(remote, std::chrono::seconds{10}, std::forward<Ts>(xs)...)
      .receive([&](const T& x) { out = x; }, [](const caf::error&) {});
    return out;
  }
};

int exit_code_of_start(node::node& n) {
  try {
    n.start();
  } catch (const node::node_error& e) {
    return e.exit_code();
  }
  return 0;
}

} // namespace

TEST_CASE("a node refuses to start on an unmigrated database and says how to fix it") {
  tasker::testing::scratch_db db{false};
  node::node n{test_config(db.url()), {}};
  try {
    n.start();
    FAIL("start() succeeded on an empty database");
  } catch (const node::node_error& e) {
    CHECK(e.exit_code() == 2);
    CHECK(std::string{e.what()}.find("tasker-node migrate") != std::string::npos);
  }
  CHECK_FALSE(n.running());
}

TEST_CASE("a node started with migrate applies the schema and creates the orchestration queues") {
  tasker::testing::scratch_db db{false};
  node::node_options opts;
  opts.migrate = true;
  node::node n{test_config(db.url()), opts};
  REQUIRE(exit_code_of_start(n) == 0);
  CHECK(n.running());
  auto conn = db.connect();
  pqxx::work tx{conn};
  std::vector<std::string> names;
  for (const auto& q : messaging::queue_client::list_queues(tx))
    names.push_back(q.name);
  CHECK(std::count(names.begin(), names.end(), "orchestration_task_requests") == 1);
  CHECK(std::count(names.begin(), names.end(), "orchestration_step_results") == 1);
}

TEST_CASE("a node whose pools exceed the connection budget refuses to start with exit code 2") {
  tasker::testing::scratch_db db;
  auto cfg = test_config(db.url());
  cfg.pools[config::executor_type::task_claimer].max_executors = 50;
  node::node n{cfg, {}};
  try {
    n.start();
    FAIL("start() succeeded past the budget");
  } catch (const node::node_error& e) {
    CHECK(e.exit_code() == 2);
    // The message carries the numbers: 50 + 4 × 1 executors requested.
    INFO(e.what());
    CHECK(std::string{e.what()}.find("54") != std::string::npos);
  }
  CHECK_FALSE(n.running());
}

TEST_CASE("a running node reports every pool and stops gracefully with a final snapshot") {
  tasker::testing::scratch_db db;
  node::node_options opts;
  opts.node_id = "node-under-test";
  node::node n{test_config(db.url()), opts};
  REQUIRE(exit_code_of_start(n) == 0);
  CHECK(n.node_id() == "node-under-test");
  CHECK(n.budget().total_executor_limit == 7);
  auto snap = n.status();
  REQUIRE(snap);
  CHECK(snap->pools.size() == config::all_executor_types.size());
  auto final_snapshot = n.stop();
  REQUIRE(final_snapshot);
  CHECK(final_snapshot->shutting_down);
  CHECK_FALSE(n.running());
  CHECK_FALSE(n.stop().has_value()); // idempotent
}

TEST_CASE("a started node serves health over HTTP, registers in the cluster and answers its "
          "inspector") {
  tasker::testing::scratch_db db;
  node::node_options opts;
  opts.node_id = "wired-node";
  opts.config_load_time = std::chrono::milliseconds{12};
  node::node n{test_environment(db.url()), opts};
  REQUIRE(exit_code_of_start(n) == 0);
  REQUIRE(n.http_port() != 0);
  REQUIRE(n.inspector_port() != 0);

  httplib::Client http{"127.0.0.1", n.http_port()};
  http.set_read_timeout(10, 0);
  auto live = http.Get("/health/live");
  REQUIRE(live);
  CHECK(live->status == 200);
  auto orch = http.Get("/health/orchestration");
  REQUIRE(orch);
  CHECK(orch->status == 200);
  auto body = nlohmann::json::parse(orch->body);
  INFO(orch->body);
  std::size_t pools_seen = 0;
  for (auto type : config::all_executor_types)
    if (orch->body.find(std::string{config::to_string(type)}) != std::string::npos)
      ++pools_seen;
  CHECK(pools_seen == config::all_executor_types.size());
  auto metrics = http.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find("config_load_time") != std::string::npos);

  auto row = row_of(db, "wired-node");
  REQUIRE(row);
  CHECK(row->status == resources::node_status::live);
  CHECK(row->node.http_address == "127.0.0.1:" + std::to_string(n.http_port()));
  CHECK(row->node.inspector_address == "127.0.0.1:" + std::to_string(n.inspector_port()));
  CHECK(row->node.pools.size() == config::all_executor_types.size());

  {
    inspector_client client{n.inspector_port()};
    auto tree = client.ask<messaging::node_inspection>(messaging::status_atom::value);
    REQUIRE(tree);
    CHECK(tree->snapshot.pools.size() == config::all_executor_types.size());
  }

  REQUIRE(n.stop());
  CHECK(n.http_port() != 0); // the port stays readable for the final report
  CHECK_FALSE(http.Get("/health/live"));
  row = row_of(db, "wired-node");
  REQUIRE(row);
  CHECK(row->status == resources::node_status::stopped);
}

TEST_CASE("a node drained through its inspector stops running and is marked stopped") {
  tasker::testing::scratch_db db;
  node::node_options opts;
  opts.node_id = "drained-node";
  node::node n{test_environment(db.url()), opts};
  REQUIRE(exit_code_of_start(n) == 0);
  {
    inspector_client client{n.inspector_port()};
    auto snap = client.ask<messaging::coordinator_snapshot>(messaging::drain_atom::value);
    REQUIRE(snap);
    CHECK(snap->shutting_down);
  }
  CHECK(eventually([&] { return !n.running(); }));
  n.stop();
  auto row = row_of(db, "drained-node");
  REQUIRE(row);
  CHECK(row->status == resources::node_status::stopped);
}

TEST_CASE("a started node deletes archived messages older than queues.archive_retention_days and "
          "keeps the rest") {
  tasker::testing::scratch_db db;
  {
    auto conn = db.connect();
    pqxx::work tx{conn};
    for (const char* queue : {"old_and_new", "recent_only"}) {
      messaging::queue_client::create_queue(tx, queue);
      auto sent = messaging::queue_client::send_batch(
        tx, queue, {nlohmann::json{{"i", 0}}, nlohmann::json{{"i", 1}}});
      messaging::queue_client::archive(tx, queue, sent, "test");
    }
    // Of old_and_new, message 1 was archived 10 days ago; recent_only's 3 days ago.
    tx.exec0("UPDATE tasker_mq.a_old_and_new SET archived_at = now() - interval '10 days'"
             " WHERE msg_id = 1");
    tx.exec0("UPDATE tasker_mq.a_recent_only SET archived_at = now() - interval '3 days'");
    tx.commit();
  }
  auto archived = [&](const char* queue) {
    auto conn = db.connect();
    pqxx::work tx{conn};
    return tx.exec1(std::string{"SELECT count(*) FROM tasker_mq.a_"} + queue)[0].as<int>();
  };
  auto cfg = test_config(db.url());
  cfg.queues.archive_retention_days = 7;
  node::node_options opts;
  opts.node_id = "purging-node";
  node::node n{cfg, opts};
  REQUIRE(exit_code_of_start(n) == 0);
  CHECK(eventually([&] { return archived("old_and_new") == 1; }));
  n.stop();
  auto conn = db.connect();
  pqxx::work tx{conn};
  CHECK(tx.exec1("SELECT msg_id FROM tasker_mq.a_old_and_new")[0].as<int>() == 2);
  CHECK(archived("recent_only") == 2);
}
