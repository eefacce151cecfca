#include "resources/store_operator.hpp"

#include "messaging/queue_client.hpp"
#include "resources/store_test_support.hpp"
#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>

using namespace tasker;
using namespace tasker::resources;
using namespace tasker::resources::test;

namespace {

/// Drives every step of `task` to error with no retries left and the task to error.
void fail_task(pqxx::transaction_base& tx, const std::string& task) {
  std::vector<std::string> steps;
  for (const auto& [name, id] : step_ids(tx, task))
    steps.push_back(id);
  drive(tx, steps, {step_state::enqueued, step_state::in_progress, step_state::error});
  transition_tasks(tx, {task}, task_state::in_progress);
  transition_tasks(tx, {task}, task_state::error);
}

} // namespace

TEST_CASE("cancelling a task cancels its waiting steps and leaves running ones") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = make_task(tx, flat_template("cancel_me", 3));
  auto ids = step_ids(tx, task);
  drive(tx, {ids["s1"]}, {step_state::enqueued, step_state::in_progress});

  auto out = cancel_task(tx, task, {{"by", "ops"}});
  CHECK(out.from_state == "pending");
  CHECK(out.to_state == "cancelled");
  CHECK(out.steps_changed == 2);
  CHECK(current_step_state(tx, ids["s0"]) == step_state::cancelled);
  CHECK(current_step_state(tx, ids["s1"]) == step_state::in_progress);
  CHECK(task_transition_history(tx, task).back().metadata.value("by", "") == "ops");
}

TEST_CASE("cancelling a finished task is refused naming the task and its state") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = make_task(tx, flat_template("done", 1));
  cancel_task(tx, task);
  savepoint sp{tx};
  try {
    cancel_task(tx, task);
    FAIL("a second cancel was accepted");
  } catch (const store_error& e) {
    CHECK(e.code() == store_errc::illegal_transition);
    CHECK(std::string{e.what()}.find(task + " is cancelled") != std::string::npos);
  }
}

TEST_CASE("retrying a failed task resets its failed steps so they run again") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = make_task(tx, flat_template("flaky", 2, 1));
  fail_task(tx, task);
  tx.exec0("UPDATE tasks SET claimed_by = 'node-a', claimed_at = now()");

  auto out = retry_task(tx, task);
  CHECK(out.from_state == "error");
  CHECK(out.to_state == "pending");
  CHECK(out.steps_changed == 2);
  auto st = find_task_status(tx, task);
  REQUIRE(st);
  CHECK(st->task.claimed_by.empty());
  for (const auto& s : st->steps) {
    CHECK(s.state == "pending");
    CHECK(s.attempts == 0);
  }
  CHECK(ready_names(tx, task) == std::vector<std::string>{"s0", "s1"});
}

TEST_CASE("retrying a task that is not in error is refused") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = make_task(tx, flat_template("fine", 1));
  CHECK_THROWS_WITH_AS(retry_task(tx, task), doctest::Contains("retry applies only"), store_error);
}

TEST_CASE("resolving a task settles its unfinished steps and keeps completed ones") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = make_task(tx, flat_template("settle", 2));
  auto ids = step_ids(tx, task);
  complete_steps(tx, {ids["s0"]});
  auto out = resolve_task(tx, task);
  CHECK(out.to_state == "resolved_manually");
  CHECK(out.steps_changed == 1);
  CHECK(current_step_state(tx, ids["s0"]) == step_state::complete);
  CHECK(current_step_state(tx, ids["s1"]) == step_state::resolved_manually);
  savepoint sp{tx};
  CHECK_THROWS_AS(resolve_task(tx, task), store_error);
}

TEST_CASE("an unknown task is reported as not found") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  const std::string ghost = "00000000-0000-4000-8000-000000000001";
  CHECK_FALSE(find_task_status(tx, ghost));
  try {
    cancel_task(tx, ghost);
    FAIL("cancelling an unknown task succeeded");
  } catch (const store_error& e) {
    CHECK(e.code() == store_errc::not_found);
  }
}

TEST_CASE("task listings filter by state and namespace, newest first") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto first = make_task(tx, flat_template("listed", 2), {{"n", 1}});
  auto second = create_task(tx, request_for(flat_template("listed", 2), {{"n", 2}})).task_uuid;
  cancel_task(tx, first);

  auto all = list_tasks(tx, {});
  REQUIRE(all.size() == 2);
  CHECK(all[0].total_steps == 2);
  auto cancelled = list_tasks(tx, {"cancelled", "", 10});
  REQUIRE(cancelled.size() == 1);
  CHECK(cancelled[0].task_uuid == first);
  CHECK(list_tasks(tx, {"", "elsewhere", 10}).empty());
  CHECK(list_tasks(tx, {"pending", "shop", 10}).at(0).task_uuid == second);
  CHECK_THROWS_AS(list_tasks(tx, {"asleep", "", 10}), std::invalid_argument);
}

TEST_CASE("the latest template version is found when none is named") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto v1 = flat_template("versioned", 1);
  auto v2 = flat_template("versioned", 2);
  v2.version = "2.0.0";
  register_template(tx, v1);
  register_template(tx, v2);
  CHECK(find_template(tx, "shop", "versioned", "")->version == "2.0.0");
  CHECK(find_template(tx, "shop", "versioned", "1.0.0")->document.at("steps").size() == 1);
  CHECK_FALSE(find_template(tx, "shop", "versioned", "9.9.9"));
  auto listed = list_templates(tx);
  REQUIRE(listed.size() == 2);
  CHECK(listed[1].step_count == 2);
}

TEST_CASE("a processed request is found by its id and an identical one as a duplicate") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto tmpl = flat_template("asked", 1);
  register_template(tx, tmpl);
  auto req = request_for(tmpl, {{"k", "v"}});
  req.request_id = "11111111-1111-4111-8111-111111111111";
  auto wire = to_json(req);
  CHECK_FALSE(find_requested_task(tx, wire));
  auto task = create_task(tx, req).task_uuid;
  auto found = find_requested_task(tx, wire);
  REQUIRE(found);
  CHECK(found->task_uuid == task);
  CHECK_FALSE(found->duplicate);
  wire["request_id"] = "22222222-2222-4222-8222-222222222222";
  CHECK(find_requested_task(tx, wire)->duplicate);
}

TEST_CASE("queue statistics count archived messages and redrive-all empties the archive") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  using messaging::queue_client;
  queue_client::create_queue(tx, "ops_q");
  auto a = queue_client::send(tx, "ops_q", {{"n", 1}});
  queue_client::send(tx, "ops_q", {{"n", 2}});
  queue_client::archive(tx, "ops_q", {a}, "bad input");

  auto stats = all_queue_stats(tx);
  auto it = std::find_if(stats.begin(), stats.end(),
                         [](const queue_stats& s) { return s.queue_name == "ops_q"; });
  REQUIRE(it != stats.end());
  auto m = queue_client::metrics(tx, "ops_q");
  CHECK(it->queue_length == m.queue_length);
  CHECK(it->total_messages_sent == m.total_messages_sent);
  CHECK(it->archived_count == 1);
  CHECK(redrive_all(tx, "ops_q") == std::vector<std::int64_t>{a});
  CHECK(queue_client::list_archived(tx, "ops_q", 10).empty());
  CHECK_THROWS_AS(redrive_all(tx, "Bad-Name"), std::invalid_argument);
}
