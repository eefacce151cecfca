#include "resources/store_nodes.hpp"

#include "resources/store_claims.hpp"
#include "resources/store_test_support.hpp"
#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>

using namespace tasker;
using namespace tasker::resources;
using namespace std::chrono_literals;

namespace {

node_registration node(std::string id, std::string inspector = "127.0.0.1:4242") {
  node_registration n;
  n.node_id = std::move(id);
  n.hostname = "host-" + n.node_id;
  n.pid = 4321;
  n.inspector_address = std::move(inspector);
  n.http_address = "127.0.0.1:8080";
  n.pools = nlohmann::json::array({{{"name", "task_claimer"}, {"min", 1}, {"max", 3}}});
  return n;
}

void make_stale(pqxx::transaction_base& tx, const std::string& id) {
  tx.exec_params0("UPDATE nodes SET heartbeat_at = now() - interval '1 minute' WHERE node_id = $1",
                  id);
}

std::vector<std::string> ids(const std::vector<node_record>& nodes) {
  std::vector<std::string> out;
  for (auto& n : nodes)
    out.push_back(n.node.node_id);
  return out;
}

std::string holder(pqxx::transaction_base& tx, const std::string& task) {
  auto row = tx.exec_params1("SELECT claimed_by FROM tasks WHERE task_uuid = $1", task);
  return row[0].is_null() ? std::string{} : row[0].as<std::string>();
}

using list = std::vector<std::string>;

} // namespace

TEST_CASE("a registered node is listed as live with what it registered and heartbeats") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  register_node(tx, node("node-b"));
  register_node(tx, node("node-a", ""));
  auto nodes = list_nodes(tx);
  REQUIRE(ids(nodes) == list{"node-a", "node-b"});
  CHECK(nodes[0].status == node_status::live);
  CHECK(nodes[0].node.hostname == "host-node-a");
  CHECK(nodes[0].node.pid == 4321);
  CHECK(nodes[0].node.inspector_address.empty());
  CHECK(nodes[1].node.inspector_address == "127.0.0.1:4242");
  CHECK(nodes[1].node.pools.at(0).at("name") == "task_claimer");
  CHECK(nodes[1].node.pools.at(0).at("max") == 3);
  make_stale(tx, "node-a");
  auto before = list_nodes(tx)[0].heartbeat_at;
  CHECK(heartbeat_node(tx, "node-a") == node_status::live);
  CHECK(list_nodes(tx)[0].heartbeat_at > before);
  CHECK_FALSE(heartbeat_node(tx, "node-x").has_value());
}

TEST_CASE("a stopped node is no longer listed among the live ones") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  register_node(tx, node("node-a"));
  register_node(tx, node("node-b"));
  CHECK(mark_node_stopped(tx, "node-a"));
  CHECK_FALSE(mark_node_stopped(tx, "node-x"));
  CHECK(ids(list_nodes(tx, true)) == list{"node-b"});
  CHECK(list_nodes(tx)[0].status == node_status::stopped);
  // A stopped node is never swept as dead, however old its last beat.
  make_stale(tx, "node-a");
  CHECK(mark_dead_nodes(tx, 30s).empty());
}

TEST_CASE("a node that stops heartbeating is marked dead and another node can claim its task") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  register_node(tx, node("node-a"));
  register_node(tx, node("node-b"));
  auto task = test::make_task(tx, test::diamond_template());
  REQUIRE(claim_ready_tasks(tx, "node-a", 10, 300).size() == 1);
  CHECK(claim_ready_tasks(tx, "node-b", 10, 300).empty());
  CHECK(holder(tx, task) == "node-a");

  make_stale(tx, "node-a");
  // Node B's beat: its own heartbeat first, then the sweep.
  CHECK(heartbeat_node(tx, "node-b") == node_status::live);
  CHECK(mark_dead_nodes(tx, 30s) == list{"node-a"});
  CHECK(holder(tx, task).empty());
  CHECK(list_nodes(tx)[0].status == node_status::dead);
  CHECK(ids(list_nodes(tx, true)) == list{"node-b"});
  auto claimed = claim_ready_tasks(tx, "node-b", 10, 300);
  REQUIRE(claimed.size() == 1);
  CHECK(claimed[0].task_uuid == task);
  CHECK(holder(tx, task) == "node-b");
  // Sweeping again finds nobody new.
  CHECK(mark_dead_nodes(tx, 30s).empty());
}

TEST_CASE("a node swept as dead that heartbeats again is live and learns it was dead") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  register_node(tx, node("node-a"));
  make_stale(tx, "node-a");
  CHECK(mark_dead_nodes(tx, 30s) == list{"node-a"});
  CHECK(heartbeat_node(tx, "node-a") == node_status::dead);
  CHECK(list_nodes(tx, true).size() == 1);
}
