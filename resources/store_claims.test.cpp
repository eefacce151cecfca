#include "resources/store_test_support.hpp"
#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>

using namespace tasker;
using namespace tasker::resources;

namespace {

std::vector<std::string> uuids(const std::vector<claimed_task>& claimed) {
  std::vector<std::string> out;
  for (const auto& c : claimed)
    out.push_back(c.task_uuid);
  return out;
}

std::string holder(pqxx::transaction_base& tx, const std::string& task) {
  auto row = tx.exec_params1("SELECT claimed_by FROM tasks WHERE task_uuid = $1", task);
  return row[0].is_null() ? std::string{} : row[0].as<std::string>();
}

void age_task(pqxx::transaction_base& tx, const std::string& task, const char* by) {
  tx.exec_params0("UPDATE tasks SET created_at = now() - $2::interval WHERE task_uuid = $1", task,
                  std::string{by});
}

using list = std::vector<std::string>;

} // namespace

TEST_CASE("the higher priority task is claimed first") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto tmpl = test::diamond_template();
  auto low = test::make_task(tx, tmpl, {{"n", 1}}, 1);
  auto high = test::make_task(tx, tmpl, {{"n", 2}}, 5);
  auto first = claim_ready_tasks(tx, "node-a", 1, 30);
  REQUIRE(first.size() == 1);
  CHECK(first[0].task_uuid == high);
  CHECK(first[0].priority == 5);
  CHECK(first[0].namespace_name == "shop");
  CHECK(uuids(claim_ready_tasks(tx, "node-a", 1, 30)) == list{low});
  CHECK(claim_ready_tasks(tx, "node-a", 1, 30).empty());
  CHECK(holder(tx, high) == "node-a");
}

TEST_CASE("a long-waiting low-priority task overtakes a fresh high-priority one") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto tmpl = test::diamond_template();
  auto old_low = test::make_task(tx, tmpl, {{"n", 1}}, 0);
  auto fresh_high = test::make_task(tx, tmpl, {{"n", 2}}, 10);
  age_task(tx, old_low, "1 hour");
  {
    // Aging of one point per day: an hour is not enough to pass priority 10.
    test::savepoint sp{tx};
    CHECK(uuids(claim_ready_tasks(tx, "node-a", 1, 30, 86400.0)) == list{fresh_high});
  }
  // One point per minute: sixty points after an hour.
  auto claimed = claim_ready_tasks(tx, "node-a", 2, 30, 60.0);
  CHECK(uuids(claimed) == list{old_low, fresh_high});
  REQUIRE(claimed.size() == 2);
  CHECK(claimed[0].effective_priority >= 59.0);
  CHECK(claimed[0].effective_priority > claimed[1].effective_priority);
}

TEST_CASE("a live claim is skipped by other nodes and a lapsed one can be taken over") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::diamond_template());
  CHECK(uuids(claim_ready_tasks(tx, "node-a", 10, 30)) == list{task});
  CHECK(claim_ready_tasks(tx, "node-b", 10, 30).empty());
  CHECK(holder(tx, task) == "node-a");
  tx.exec_params0("UPDATE tasks SET claimed_at = now() - interval '31 seconds'"
                  " WHERE task_uuid = $1",
                  task);
  CHECK(uuids(claim_ready_tasks(tx, "node-b", 10, 30)) == list{task});
  CHECK(holder(tx, task) == "node-b");
}

TEST_CASE("only the node holding a claim can release or extend it") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::diamond_template());
  REQUIRE(claim_ready_tasks(tx, "node-a", 10, 30).size() == 1);
  CHECK(release_claims(tx, {task}, "node-b").empty());
  CHECK(extend_claims(tx, {task}, "node-b").empty());
  CHECK(holder(tx, task) == "node-a");
  CHECK(extend_claims(tx, {task}, "node-a") == list{task});
  CHECK(release_claims(tx, {task}, "node-a") == list{task});
  CHECK(holder(tx, task).empty());
  CHECK(uuids(claim_ready_tasks(tx, "node-b", 10, 30)) == list{task});
}

TEST_CASE("tasks without a ready step or already finished are not claimed") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto tmpl = test::diamond_template();
  auto busy = test::make_task(tx, tmpl, {{"n", 1}});
  auto done = test::make_task(tx, tmpl, {{"n", 2}});
  auto open = test::make_task(tx, tmpl, {{"n", 3}});
  transition_steps(tx, {test::step_ids(tx, busy).at("a")}, step_state::enqueued);
  transition_tasks(tx, {done}, task_state::cancelled);
  CHECK(uuids(claim_ready_tasks(tx, "node-a", 10, 30)) == list{open});
}

TEST_CASE("concurrent claimers skip each other's locked rows instead of sharing a task") {
  testing::scratch_db db;
  std::string t1;
  std::string t2;
  {
    auto setup = db.connect();
    pqxx::work tx{setup};
    t1 = test::make_task(tx, test::diamond_template(), {{"n", 1}}, 2);
    t2 = test::make_task(tx, test::diamond_template(), {{"n", 2}}, 1);
    tx.commit();
  }
  auto conn_a = db.connect();
  auto conn_b = db.connect();
  pqxx::work tx_a{conn_a};
  pqxx::work tx_b{conn_b};
  auto a = claim_ready_tasks(tx_a, "node-a", 1, 30);
  auto b = claim_ready_tasks(tx_b, "node-b", 1, 30); // t1 is locked by tx_a: skipped
  CHECK(uuids(a) == list{t1});
  CHECK(uuids(b) == list{t2});
  tx_a.commit();
  tx_b.commit();
}
