#include "coordinator/cluster_member.hpp"

#include "resources/store_claims.hpp"
#include "resources/store_test_support.hpp"
#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>

#include <caf/all.hpp>

#include <functional>
#include <thread>

using namespace tasker;
using namespace tasker::coordinator;
using namespace std::chrono_literals;

namespace {

struct member_config : caf::actor_system_config {
  member_config() { messaging::add_message_types(*this); }
};

resources::node_registration registration(std::string id) {
  resources::node_registration n;
  n.node_id = std::move(id);
  n.hostname = "localhost";
  n.pid = 1;
  n.inspector_address = "127.0.0.1:4242";
  n.pools = nlohmann::json::array({{{"name", "task_claimer"}, {"min", 1}, {"max", 2}}});
  return n;
}

std::optional<resources::node_record> row_of(const testing::scratch_db& db, const std::string& id) {
  auto conn = db.connect();
  pqxx::work tx{conn};
  for (auto& n : resources::list_nodes(tx))
    if (n.node.node_id == id)
      return n;
  return std::nullopt;
}

bool eventually(const std::function<bool()>& pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred())
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

} // namespace

TEST_CASE("a cluster member registers its node and marks it stopped when the coordinator ends") {
  testing::scratch_db db;
  member_config cfg;
  caf::actor_system sys{cfg};
  auto watched = sys.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](messaging::status_atom) {}};
  });
  cluster_member_options opts;
  opts.database_url = db.url();
  opts.node = registration("node-a");
  opts.heartbeat_interval = 20ms;
  opts.watch = watched;
  auto member = spawn_cluster_member(sys, opts);
  REQUIRE(member);
  auto first = row_of(db, "node-a");
  REQUIRE(first);
  CHECK(first->status == resources::node_status::live);
  CHECK(first->node.inspector_address == "127.0.0.1:4242");
  CHECK(eventually([&] { return row_of(db, "node-a")->heartbeat_at > first->heartbeat_at; }));
  caf::anon_send_exit(watched, caf::exit_reason::user_shutdown);
  CHECK(eventually([&] { return row_of(db, "node-a")->status == resources::node_status::stopped; }));
}

TEST_CASE("a cluster member sweeps a silent peer dead and frees its tasks for claiming") {
  testing::scratch_db db;
  std::string task;
  {
    auto conn = db.connect();
    pqxx::work tx{conn};
    resources::register_node(tx, registration("node-a"));
    task = resources::test::make_task(tx, resources::test::diamond_template());
    REQUIRE(resources::claim_ready_tasks(tx, "node-a", 10, 300).size() == 1);
    tx.exec0("UPDATE nodes SET heartbeat_at = now() - interval '1 minute'");
    tx.commit();
  }
  member_config cfg;
  caf::actor_system sys{cfg};
  cluster_member_options opts;
  opts.database_url = db.url();
  opts.node = registration("node-b");
  opts.heartbeat_interval = 20ms;
  opts.stale_after = 30s;
  auto member = spawn_cluster_member(sys, opts);
  REQUIRE(member);
  CHECK(eventually([&] { return row_of(db, "node-a")->status == resources::node_status::dead; }));
  CHECK(row_of(db, "node-b")->status == resources::node_status::live);
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto claimed = resources::claim_ready_tasks(tx, "node-b", 10, 300);
  REQUIRE(claimed.size() == 1);
  CHECK(claimed[0].task_uuid == task);
  tx.commit();
  caf::anon_send(*member, messaging::stop_request{true});
  CHECK(eventually([&] { return row_of(db, "node-b")->status == resources::node_status::stopped; }));
}

TEST_CASE("a cluster member cannot start without a reachable, migrated database") {
  testing::scratch_db db{false};
  member_config cfg;
  caf::actor_system sys{cfg};
  cluster_member_options opts;
  opts.database_url = db.url();
  opts.node = registration("node-a");
  auto member = spawn_cluster_member(sys, opts);
  REQUIRE_FALSE(member);
  const auto& ctx = member.error().context();
  REQUIRE(ctx.match_elements<std::string>());
  CHECK(ctx.get_as<std::string>(0).find("node-a") != std::string::npos);
}
