#include "resources/store_test_support.hpp"
#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>

using namespace tasker;
using namespace tasker::resources;

using names = std::vector<std::string>;

namespace {

void set_backoff(pqxx::transaction_base& tx, const std::string& step, const char* offset) {
  tx.exec_params0("UPDATE workflow_steps SET backoff_until = now() + $2::interval"
                  " WHERE workflow_step_uuid = $1",
                  step, std::string{offset});
}

execution_status status_of(pqxx::transaction_base& tx, const std::string& task) {
  return task_execution_context(tx, task).status;
}

} // namespace

TEST_CASE("readiness follows the diamond a -> {b, c} -> d one completion at a time") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::diamond_template());
  auto id = test::step_ids(tx, task);
  CHECK(test::ready_names(tx, task) == names{"a"});
  test::complete_steps(tx, {id.at("a")});
  CHECK(test::ready_names(tx, task) == names{"b", "c"});
  test::complete_steps(tx, {id.at("b")});
  CHECK(test::ready_names(tx, task) == names{"c"});
  test::complete_steps(tx, {id.at("c")});
  CHECK(test::ready_names(tx, task) == names{"d"});
  test::complete_steps(tx, {id.at("d")});
  CHECK(test::ready_names(tx, task).empty());
}

TEST_CASE("a ready step carries its parents' results, the task context and its inputs") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto tmpl = test::diamond_template();
  tmpl.steps[0].inputs = {{"mode", "merge"}}; // d
  auto task = test::make_task(tx, tmpl, {{"order", 42}});
  auto id = test::step_ids(tx, task);
  test::complete_steps(tx, {id.at("a"), id.at("b"), id.at("c")});
  tx.exec_params0("UPDATE workflow_steps SET results = jsonb_build_object('total', 3)"
                  " WHERE workflow_step_uuid = $1",
                  id.at("b"));
  auto ready = ready_steps(tx, {task});
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].step_name == "d");
  CHECK(ready[0].namespace_name == "shop");
  CHECK(ready[0].handler == "noop");
  CHECK(ready[0].state == step_state::pending);
  CHECK(ready[0].inputs == nlohmann::json{{"mode", "merge"}});
  CHECK(ready[0].task_context == nlohmann::json{{"order", 42}});
  CHECK(ready[0].parent_results == nlohmann::json{{"b", {{"total", 3}}}, {"c", nullptr}});
  CHECK(ready[0].queue_exists); // no suffix given: not looked up
}

TEST_CASE("a ready step says whether its namespace queue exists") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::diamond_template(), {});
  auto ready = [&](const std::string& suffix) {
    auto r = ready_steps(tx, {task}, suffix);
    REQUIRE(r.size() == 1);
    return r[0].queue_exists;
  };
  CHECK_FALSE(ready("_queue"));
  tx.exec("SELECT tasker_mq.create_queue('shop_queue')");
  CHECK(ready("_queue"));
  CHECK_FALSE(ready("_other"));
  tx.exec("SELECT tasker_mq.drop_queue('shop_queue')");
  CHECK_FALSE(ready("_queue"));
}

TEST_CASE("a failed step is ready again only after its backoff and while attempts remain") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::flat_template("flaky", 1, 2));
  auto step = test::step_ids(tx, task).at("s0");
  auto fail_once = [&] {
    test::drive(tx, {step}, {step_state::enqueued, step_state::in_progress, step_state::error});
  };
  fail_once(); // attempts = 1 < retry_limit 2
  set_backoff(tx, step, "1 hour");
  CHECK(test::ready_names(tx, task).empty());
  CHECK(status_of(tx, task) == execution_status::waiting_for_dependencies);
  set_backoff(tx, step, "-1 second");
  CHECK(test::ready_names(tx, task) == names{"s0"});
  auto ctx = task_execution_context(tx, task);
  CHECK(ctx.status == execution_status::has_ready_steps);
  CHECK(ctx.error == 1);
  CHECK(ctx.failed == 0);

  fail_once(); // attempts = 2 == retry_limit
  CHECK(test::ready_names(tx, task).empty());
  ctx = task_execution_context(tx, task);
  CHECK(ctx.failed == 1);
  CHECK(ctx.status == execution_status::blocked_by_failures);
}

TEST_CASE("a failed step that is not retryable is never ready again") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::flat_template("fragile", 1, 3, false));
  auto step = test::step_ids(tx, task).at("s0");
  test::drive(tx, {step}, {step_state::enqueued, step_state::in_progress, step_state::error});
  CHECK(test::ready_names(tx, task).empty());
  CHECK(status_of(tx, task) == execution_status::blocked_by_failures);
}

TEST_CASE("the execution context reports each status with its step counts") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::diamond_template());
  auto id = test::step_ids(tx, task);

  auto ctx = task_execution_context(tx, task);
  CHECK(ctx.status == execution_status::has_ready_steps);
  CHECK(ctx.total == 4);
  CHECK(ctx.pending == 4);
  CHECK(ctx.ready == 1);

  transition_steps(tx, {id.at("a")}, step_state::enqueued);
  ctx = task_execution_context(tx, task);
  CHECK(ctx.status == execution_status::processing);
  CHECK(ctx.enqueued == 1);
  CHECK(ctx.ready == 0);

  test::drive(tx, {id.at("a")}, {step_state::in_progress, step_state::complete});
  test::drive(tx, {id.at("b")}, {step_state::enqueued, step_state::in_progress});
  set_backoff(tx, id.at("c"), "1 hour");
  ctx = task_execution_context(tx, task);
  CHECK(ctx.status == execution_status::processing);
  CHECK(ctx.in_progress == 1);
  CHECK(ctx.complete == 1);
  CHECK(ctx.backing_off == 1);

  transition_steps(tx, {id.at("b")}, step_state::complete);
  CHECK(status_of(tx, task) == execution_status::waiting_for_dependencies);

  transition_steps(tx, {id.at("c")}, step_state::cancelled);
  ctx = task_execution_context(tx, task);
  CHECK(ctx.status == execution_status::blocked_by_failures);
  CHECK(ctx.cancelled == 1);

  transition_steps(tx, {id.at("c")}, step_state::resolved_manually);
  CHECK(status_of(tx, task) == execution_status::has_ready_steps);
  test::complete_steps(tx, {id.at("d")});
  ctx = task_execution_context(tx, task);
  CHECK(ctx.status == execution_status::all_complete);
  CHECK(ctx.complete == 4);
}

TEST_CASE("contexts and ready steps are answered for many tasks in one call") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto tmpl = test::diamond_template();
  auto t1 = test::make_task(tx, tmpl, {{"n", 1}});
  auto t2 = test::make_task(tx, tmpl, {{"n", 2}});
  test::complete_steps(tx, {test::step_ids(tx, t2).at("a")});
  auto contexts = execution_contexts(tx, {t1, t2});
  CHECK(contexts.size() == 2);
  auto ready = ready_steps(tx, {t1, t2});
  int for_t1 = 0;
  int for_t2 = 0;
  for (const auto& s : ready)
    (s.task_uuid == t1 ? for_t1 : for_t2)++;
  CHECK(for_t1 == 1);
  CHECK(for_t2 == 2);
}

TEST_CASE("steps of a cancelled task are not handed out") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::diamond_template());
  REQUIRE(test::ready_names(tx, task) == names{"a"});
  transition_tasks(tx, {task}, task_state::cancelled);
  CHECK(test::ready_names(tx, task).empty());
}
