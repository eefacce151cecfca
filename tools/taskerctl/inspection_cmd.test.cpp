#include "resources/store_nodes.hpp"
#include "tests/support/scratch_db.hpp"
#include "tools/taskerctl/inspect_commands.hpp"
#include "tools/taskerctl/support.hpp"

#include <doctest/doctest.h>

#include <sstream>

using namespace tasker;
using namespace tasker::tools::ctl;

namespace {

resources::node_registration node(std::string id, std::string inspector) {
  resources::node_registration n;
  n.node_id = std::move(id);
  n.hostname = "box-" + n.node_id;
  n.pid = 77;
  n.inspector_address = std::move(inspector);
  n.http_address = "127.0.0.1:8080";
  n.pools = nlohmann::json::array({{{"name", "task_claimer"}, {"min", 1}, {"max", 3}}});
  return n;
}

} // namespace

TEST_CASE("taskerctl cluster lists the live nodes with their pools and addresses") {
  testing::scratch_db db;
  {
    auto conn = db.connect();
    pqxx::work tx{conn};
    resources::register_node(tx, node("node-a", "127.0.0.1:4242"));
    resources::register_node(tx, node("node-b", "127.0.0.1:4343"));
    resources::register_node(tx, node("node-c", ""));
    resources::mark_node_stopped(tx, "node-c");
    tx.commit();
  }
  std::ostringstream out, err;
  REQUIRE(cluster_cmd(db.url(), false, false, out, err) == exit_ok);
  auto text = out.str();
  CHECK(text.find("node-a") != std::string::npos);
  CHECK(text.find("node-b") != std::string::npos);
  CHECK(text.find("127.0.0.1:4343") != std::string::npos);
  CHECK(text.find("task_claimer[1..3]") != std::string::npos);
  CHECK(text.find("node-c") == std::string::npos);

  std::ostringstream all, json;
  REQUIRE(cluster_cmd(db.url(), true, false, all, err) == exit_ok);
  CHECK(all.str().find("stopped") != std::string::npos);
  REQUIRE(cluster_cmd(db.url(), false, true, json, err) == exit_ok);
  auto doc = nlohmann::json::parse(json.str());
  REQUIRE(doc.size() == 2);
  CHECK(doc[0]["node_id"] == "node-a");
  CHECK(doc[0]["inspector"] == "127.0.0.1:4242");
  CHECK(doc[0]["pools"][0]["name"] == "task_claimer");
  CHECK(doc[0]["status"] == "live");
}

TEST_CASE("a node address must be HOST:PORT with a valid port") {
  auto ok = parse_node_endpoint("127.0.0.1:4242");
  CHECK(ok.host == "127.0.0.1");
  CHECK(ok.port == 4242);
  CHECK_THROWS_AS(parse_node_endpoint("127.0.0.1"), usage_error);
  CHECK_THROWS_AS(parse_node_endpoint("127.0.0.1:0"), usage_error);
  CHECK_THROWS_AS(parse_node_endpoint("127.0.0.1:70000"), usage_error);
  CHECK_THROWS_AS(parse_node_endpoint(":4242"), usage_error);
}

TEST_CASE("inspect against a port with no inspector fails with a hint") {
  // Port 1 on loopback is never a Tasker inspector.
  std::ostringstream out, err;
  CHECK(inspect_cmd(node_endpoint{"127.0.0.1", 1}, false, 0, out, err) == exit_runtime_error);
  CHECK(err.str().find("telemetry.inspector.enabled") != std::string::npos);
}

TEST_CASE("the printed tree names every pool, executor and event it was given") {
  messaging::node_inspection tree;
  tree.coordinator = 10;
  tree.broker = 11;
  tree.broker_answered = true;
  tree.broker_now.size = 4;
  tree.broker_now.leased = 1;
  tree.broker_now.leases.push_back({7, 21, "task_claimer", std::chrono::milliseconds{20}});
  messaging::pool_snapshot p;
  p.name = "task_claimer";
  p.executors = 1;
  p.min = 1;
  p.max = 3;
  p.target = 1;
  p.manual = true;
  tree.snapshot.pools.push_back(p);
  messaging::executor_snapshot e;
  e.id = 21;
  e.pool = "task_claimer";
  e.state = messaging::executor_state::healthy;
  e.paused = true;
  tree.snapshot.executors.push_back(e);
  tree.snapshot.events.push_back({std::chrono::seconds{3}, "manual_scale", "task_claimer", "size 1"});
  std::ostringstream out;
  print_inspection(tree, out);
  auto text = out.str();
  CHECK(text.find("pool task_claimer") != std::string::npos);
  CHECK(text.find("[manual]") != std::string::npos);
  CHECK(text.find("#21") != std::string::npos);
  CHECK(text.find("healthy (paused)") != std::string::npos);
  CHECK(text.find("lease 7") != std::string::npos);
  CHECK(text.find("manual_scale") != std::string::npos);
  auto doc = inspection_json(tree);
  CHECK(doc["pools"][0]["executors"][0]["id"] == 21);
  CHECK(doc["broker"]["leases"][0]["holder"] == 21);
}
