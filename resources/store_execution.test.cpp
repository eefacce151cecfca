#include "resources/store_execution.hpp"
#include "resources/store_test_support.hpp"
#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <map>

using namespace tasker;
using namespace tasker::resources;

TEST_CASE("claiming and starting moves only pending tasks to in_progress") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::diamond_template());
  auto first = claim_and_start_tasks(tx, "n1", 10, 60, 60.0);
  REQUIRE(first.size() == 1);
  CHECK(first[0].task_uuid == task);
  CHECK(first[0].namespace_name == "shop");
  CHECK(first[0].started);
  CHECK(current_task_state(tx, task) == task_state::in_progress);
  release_claims(tx, {task}, "n1");
  auto again = claim_and_start_tasks(tx, "n1", 10, 60, 60.0);
  REQUIRE(again.size() == 1);
  CHECK_FALSE(again[0].started);
}

TEST_CASE("a claim finds nothing while every task is claimed or settled, and takes over a "
          "lapsed claim") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  CHECK(claim_and_start_tasks(tx, "n1", 10, 60, 60.0).empty()); // no tasks at all
  auto task = test::make_task(tx, test::diamond_template());
  REQUIRE(claim_and_start_tasks(tx, "n1", 10, 60, 60.0).size() == 1);
  // Claimed and live: nothing for another node, nor for the holder.
  CHECK(claim_and_start_tasks(tx, "n2", 10, 60, 60.0).empty());
  CHECK(claim_and_start_tasks(tx, "n1", 10, 60, 60.0).empty());
  // The only claimable task is one whose claim has lapsed.
  tx.exec_params0("UPDATE tasks SET claimed_at = now() - interval '61 seconds'"
                  " WHERE task_uuid = $1",
                  task);
  auto taken = claim_and_start_tasks(tx, "n2", 10, 60, 60.0);
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].task_uuid == task);
  CHECK_FALSE(taken[0].started); // started by the first claim
  CHECK(tx.exec_params1("SELECT claimed_by FROM tasks WHERE task_uuid = $1", task)[0]
          .as<std::string>() == "n2");
  // Released, it needs attention unclaimed and is claimed again.
  release_claims(tx, {task}, "n2");
  CHECK(claim_and_start_tasks(tx, "n1", 10, 60, 60.0).size() == 1);
}

TEST_CASE("only the claiming node's tasks are locked for enqueueing") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::diamond_template());
  claim_ready_tasks(tx, "n1", 10, 60);
  CHECK(lock_claimed_tasks(tx, "n2", 10).empty());
  auto mine = lock_claimed_tasks(tx, "n1", 10);
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].task_uuid == task);
  CHECK(mine[0].task_name == "diamond");
}

TEST_CASE("task requests naming unknown namespaces or templates are reported one by one") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  register_template(tx, test::diamond_template());
  auto problems = task_request_problems(
      tx, nlohmann::json::array(
              {{{"namespace", "shop"}, {"task_name", "diamond"}},
               {{"namespace", "nope"}, {"task_name", "diamond"}},
               {{"namespace", "shop"}, {"task_name", "diamond"}, {"task_version", "9.9.9"}}}));
  REQUIRE(problems.size() == 3);
  CHECK(problems[0].empty());
  CHECK(problems[1] == "unknown namespace \"nope\"");
  CHECK(problems[2] == "unknown task template shop/diamond@9.9.9");
}

TEST_CASE("an in-progress step with no attempts left is rescued to error, not pending") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::flat_template("one", 1, 1));
  auto ids = test::step_ids(tx, task);
  test::drive(tx, {ids["s0"]}, {step_state::enqueued, step_state::in_progress});
  CHECK(rescue_stale_steps(tx, 10).empty());
  tx.exec0("UPDATE workflow_steps SET updated_at = now() - interval '1 day'");
  auto rescued = rescue_stale_steps(tx, 10);
  REQUIRE(rescued.size() == 1);
  CHECK(rescued[0].from == step_state::in_progress);
  CHECK(rescued[0].to == step_state::error);
  transition_tasks(tx, {task}, task_state::in_progress);
  auto done = finalize_tasks(tx, 10);
  REQUIRE(done.size() == 1);
  CHECK(done[0].to == task_state::error);
}

TEST_CASE("a step in progress since before the database server restarted is rescued to "
          "pending with its attempt given back once, even with no attempts left") {
  testing::scratch_db db;
  auto conn = db.connect();
  auto restarted = [](pqxx::transaction_base& tx) {
    return tx.exec1("SELECT tasker_server_restarted_at()::text")[0].as<std::string>();
  };
  auto attempts = [](pqxx::transaction_base& tx, const std::string& step) {
    return tx.exec_params1("SELECT attempts FROM workflow_steps WHERE workflow_step_uuid = $1",
                           step)[0]
        .as<int>();
  };
  // Stale since long ago, started at `started` (an SQL expression).
  auto started_at = [](pqxx::transaction_base& tx, const std::string& step,
                       const std::string& started) {
    tx.exec_params0("UPDATE workflow_steps SET updated_at = now() - interval '1 day',"
                    " last_attempted_at = " + started + " WHERE workflow_step_uuid = $1",
                    step);
  };
  auto rescue = [](pqxx::transaction_base& tx) {
    std::map<std::string, rescued_step> by_step;
    for (const auto& r : rescue_stale_steps(tx, 10)) {
      CHECK(r.from == step_state::in_progress);
      by_step[r.step_uuid] = r;
    }
    return by_step;
  };
  std::string cut;
  std::string noted;
  {
    pqxx::work tx{conn};
    auto task = test::make_task(tx, test::flat_template("one", 3, 1));
    auto ids = test::step_ids(tx, task);
    cut = ids["s0"];
    test::drive(tx, {ids["s0"], ids["s1"], ids["s2"]},
                {step_state::enqueued, step_state::in_progress});
    // No crash since the schema was made.
    CHECK(restarted(tx) == "-infinity");
    // A crash empties the unlogged table; the sweep after it notes the
    // moment (now). Started after the server's start but before that moment:
    // cut short.
    tx.exec0("DELETE FROM tasker_server_restart");
    started_at(tx, cut, "now() - (now() - pg_postmaster_start_time()) / 2");
    // Started before the server's start: cut short too, whatever the table says.
    started_at(tx, ids["s1"], "pg_postmaster_start_time() - interval '1 second'");
    // Started after the moment: a failed attempt, its last.
    started_at(tx, ids["s2"], "now() + interval '1 second'");
    auto rescued = rescue(tx);
    REQUIRE(rescued.size() == 3);
    CHECK(rescued[cut].to == step_state::pending);
    CHECK(rescued[cut].attempt_given_back);
    CHECK(attempts(tx, cut) == 0);
    CHECK(rescued[ids["s1"]].to == step_state::pending);
    CHECK(rescued[ids["s1"]].attempt_given_back);
    CHECK(attempts(tx, ids["s1"]) == 0);
    CHECK(rescued[ids["s2"]].to == step_state::error);
    CHECK_FALSE(rescued[ids["s2"]].attempt_given_back);
    CHECK(attempts(tx, ids["s2"]) == 1);
    auto meta = tx.exec_params1("SELECT metadata FROM workflow_step_transitions"
                                " WHERE workflow_step_uuid = $1 AND most_recent",
                                cut)[0]
                  .as<std::string>();
    auto m = nlohmann::json::parse(meta);
    CHECK(m["event"] == "rescued");
    CHECK(m["attempt_given_back"] == true);
    CHECK(m["attempt"] == 1);
    noted = restarted(tx);
    CHECK(noted != "-infinity");
    CHECK(tx.exec1("SELECT tasker_server_restarted_at() = now()")[0].as<bool>());
    CHECK(tx.exec1("SELECT relpersistence FROM pg_class WHERE relname = 'tasker_server_restart'")[0]
            .as<std::string>() == "u");
    tx.commit();
  }
  pqxx::work tx{conn};
  // The moment stays until the next crash empties the table again.
  CHECK(restarted(tx) == noted);
  // An attempt is given back once: the same attempt cut short again counts.
  test::drive(tx, {cut}, {step_state::enqueued, step_state::in_progress});
  CHECK(attempts(tx, cut) == 1);
  started_at(tx, cut, "pg_postmaster_start_time() - interval '1 second'");
  auto rescued = rescue(tx);
  REQUIRE(rescued.size() == 1);
  CHECK(rescued[cut].to == step_state::error);
  CHECK_FALSE(rescued[cut].attempt_given_back);
  CHECK(attempts(tx, cut) == 1);
}

TEST_CASE("a dispatch sends the ready steps, enqueues them, settles attention and finalizes") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  tx.exec("SELECT tasker_mq.create_queue('shop_queue')");
  auto sending = test::make_task(tx, test::flat_template("two", 2));
  auto done = test::make_task(tx, test::flat_template("one", 1));
  transition_tasks(tx, {sending, done}, task_state::in_progress);
  auto s = test::step_ids(tx, sending);
  auto d = test::step_ids(tx, done);
  test::complete_steps(tx, {d["s0"]});
  tx.exec0("UPDATE tasks SET needs_attention = true");
  auto attention = [&](const std::string& task) {
    return tx.exec_params1("SELECT needs_attention FROM tasks WHERE task_uuid = $1", task)[0]
        .as<bool>();
  };
  const std::vector<locked_task> tasks{{sending, "shop", "two"}, {done, "shop", "one"}};

  // Without finalization: the ready steps are sent and enqueued, with history
  // naming the node, and the task whose every step is now in flight needs no
  // attention.
  auto out = dispatch_tasks(tx, tasks, "node-x", "_queue", false, 30);
  CHECK(out.sent == 2);
  CHECK(out.held.empty());
  CHECK(out.finalized.empty());
  CHECK(tx.exec1("SELECT count(*) FROM tasker_mq.q_shop_queue")[0].as<int>() == 2);
  CHECK(current_step_state(tx, s["s0"]) == step_state::enqueued);
  CHECK(current_step_state(tx, s["s1"]) == step_state::enqueued);
  auto meta = tx.exec_params1("SELECT metadata->>'event', metadata->>'node_id', from_state"
                              " FROM workflow_step_transitions"
                              " WHERE workflow_step_uuid = $1 AND most_recent",
                              s["s0"]);
  CHECK(meta[0].as<std::string>() == "enqueued");
  CHECK(meta[1].as<std::string>() == "node-x");
  CHECK(meta[2].as<std::string>() == "pending");
  CHECK_FALSE(attention(sending));
  CHECK(current_task_state(tx, done) == task_state::in_progress);

  // With finalization: the task with every step complete is finalized, the
  // other one is left in progress; nothing is ready, so nothing is sent.
  out = dispatch_tasks(tx, tasks, "node-x", "_queue", true, 30);
  CHECK(out.sent == 0);
  REQUIRE(out.finalized.size() == 1);
  CHECK(out.finalized[0].task_uuid == done);
  CHECK(out.finalized[0].to == task_state::complete);
  CHECK(current_task_state(tx, sending) == task_state::in_progress);
  CHECK(tx.exec1("SELECT count(*) FROM tasker_mq.q_shop_queue")[0].as<int>() == 2);
}

TEST_CASE("a worker's start moves only its enqueued steps, with one history row each") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::diamond_template());
  auto ids = test::step_ids(tx, task);
  REQUIRE(ids.size() == 4);
  transition_steps(tx, {ids["a"], ids["b"]}, step_state::enqueued);
  const std::string missing = "00000000-0000-4000-8000-000000000009";
  auto rows = tx.exec_params(
    "SELECT workflow_step_uuid::text, current_state, started FROM tasker_start_steps("
    "$1::uuid[], '{\"worker\": \"w1\"}') ORDER BY 1",
    "{" + ids["a"] + "," + ids["b"] + "," + ids["c"] + "," + missing + "}");
  std::map<std::string, std::pair<std::string, bool>> got;
  for (const auto& r : rows)
    got[r[0].as<std::string>()] = {r[1].as<std::string>(), r[2].as<bool>()};
  CHECK(got.size() == 3); // the missing step is not reported
  CHECK(got[ids["a"]] == std::pair<std::string, bool>{"enqueued", true});
  CHECK(got[ids["b"]] == std::pair<std::string, bool>{"enqueued", true});
  CHECK(got[ids["c"]] == std::pair<std::string, bool>{"pending", false});
  for (const auto& id : {ids["a"], ids["b"]}) {
    INFO(id);
    CHECK(current_step_state(tx, id) == step_state::in_progress);
    auto s = tx.exec_params1("SELECT attempts, in_process, processed, last_attempted_at = now()"
                             " AND updated_at = now() FROM workflow_steps"
                             " WHERE workflow_step_uuid = $1", id);
    CHECK(s[0].as<int>() == 1);
    CHECK(s[1].as<bool>());
    CHECK_FALSE(s[2].as<bool>());
    CHECK(s[3].as<bool>());
    CHECK(tx.exec_params1("SELECT string_agg(coalesce(from_state, '-') || '>' || to_state || ':'"
                          " || sort_key || ':' || most_recent || ':' || coalesce(metadata->>'worker',"
                          " ''), ' ' ORDER BY sort_key) FROM workflow_step_transitions"
                          " WHERE workflow_step_uuid = $1", id)[0]
            .as<std::string>()
          == "->pending:1:false: pending>enqueued:2:false: enqueued>in_progress:3:true:w1");
  }
  CHECK(current_step_state(tx, ids["c"]) == step_state::pending);
  // A second start of the same steps starts nothing.
  CHECK(tx.exec_params1("SELECT count(*) FROM tasker_start_steps($1::uuid[]) WHERE started",
                        "{" + ids["a"] + "," + ids["b"] + "}")[0]
          .as<int>() == 0);
}

// Two claims naming the same steps, in different orders: the second waits for
// the first's rows, then starts only what is still enqueued.
TEST_CASE("a start waits for a concurrent start of the same steps and starts each step once") {
  testing::scratch_db db;
  auto conn = db.connect();
  const std::string start =
    "SELECT workflow_step_uuid::text, current_state, started FROM tasker_start_steps($1::uuid[])"
    " ORDER BY 1";
  for (const bool first_commits : {true, false}) {
    INFO("the first start " << (first_commits ? "commits" : "rolls back"));
    std::map<std::string, std::string> ids;
    {
      pqxx::work tx{conn};
      auto task = test::make_task(tx, test::diamond_template(), {{"round", first_commits}});
      ids = test::step_ids(tx, task);
      transition_steps(tx, {ids["a"], ids["b"], ids["c"]}, step_state::enqueued);
      tx.commit();
    }
    pqxx::work first{conn};
    auto mine = first.exec_params(start, "{" + ids["b"] + "," + ids["a"] + "}");
    REQUIRE(mine.size() == 2);
    CHECK(mine[0][2].as<bool>());
    CHECK(mine[1][2].as<bool>());
    auto second = std::async(std::launch::async, [&] {
      auto other = db.connect();
      pqxx::work tx{other};
      std::map<std::string, std::pair<std::string, bool>> got;
      for (const auto& r :
           tx.exec_params(start, "{" + ids["a"] + "," + ids["c"] + "," + ids["b"] + "}"))
        got[r[0].as<std::string>()] = {r[1].as<std::string>(), r[2].as<bool>()};
      tx.commit();
      return got;
    });
    // The second start waits on the rows the first holds.
    CHECK(second.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout);
    if (first_commits)
      first.commit();
    else
      first.abort();
    auto got = second.get();
    const std::pair<std::string, bool> taken{"in_progress", false};
    const std::pair<std::string, bool> started{"enqueued", true};
    REQUIRE(got.size() == 3);
    CHECK(got[ids["a"]] == (first_commits ? taken : started));
    CHECK(got[ids["b"]] == (first_commits ? taken : started));
    CHECK(got[ids["c"]] == started);
    pqxx::read_transaction tx{conn};
    for (const auto& name : {"a", "b", "c"}) {
      INFO(name);
      CHECK(current_step_state(tx, ids[name]) == step_state::in_progress);
      CHECK(tx.exec_params1("SELECT attempts FROM workflow_steps WHERE workflow_step_uuid = $1",
                            ids[name])[0]
              .as<int>() == 1);
      CHECK(tx.exec_params1("SELECT count(*) FILTER (WHERE to_state = 'in_progress'),"
                            " count(*) FILTER (WHERE most_recent) FROM workflow_step_transitions"
                            " WHERE workflow_step_uuid = $1",
                            ids[name])[0]
              .as<int>() == 1);
      CHECK(tx.exec_params1("SELECT count(*) FROM workflow_step_transitions"
                            " WHERE workflow_step_uuid = $1 AND most_recent", ids[name])[0]
              .as<int>() == 1);
    }
  }
}
