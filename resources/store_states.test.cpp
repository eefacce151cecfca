#include "resources/store_test_support.hpp"
#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <tuple>
#include <utility>

using namespace tasker;
using namespace tasker::resources;

namespace {

using ts = task_state;
using ss = step_state;

// The specification of the state machines, written independently of the SQL.
const std::set<std::pair<ts, ts>> allowed_task = {{ts::pending, ts::in_progress},
                                                  {ts::in_progress, ts::complete},
                                                  {ts::in_progress, ts::error},
                                                  {ts::error, ts::pending},
                                                  {ts::pending, ts::cancelled},
                                                  {ts::in_progress, ts::cancelled},
                                                  {ts::error, ts::cancelled},
                                                  {ts::pending, ts::resolved_manually},
                                                  {ts::in_progress, ts::resolved_manually},
                                                  {ts::error, ts::resolved_manually},
                                                  {ts::complete, ts::resolved_manually},
                                                  {ts::cancelled, ts::resolved_manually}};

const std::set<std::pair<ss, ss>> allowed_step = {{ss::pending, ss::enqueued},
                                                  {ss::enqueued, ss::in_progress},
                                                  {ss::in_progress, ss::complete},
                                                  {ss::in_progress, ss::error},
                                                  {ss::error, ss::pending},
                                                  {ss::error, ss::enqueued},
                                                  {ss::enqueued, ss::pending},
                                                  {ss::in_progress, ss::pending},
                                                  {ss::pending, ss::cancelled},
                                                  {ss::enqueued, ss::cancelled},
                                                  {ss::in_progress, ss::cancelled},
                                                  {ss::error, ss::cancelled},
                                                  {ss::pending, ss::resolved_manually},
                                                  {ss::enqueued, ss::resolved_manually},
                                                  {ss::in_progress, ss::resolved_manually},
                                                  {ss::error, ss::resolved_manually},
                                                  {ss::complete, ss::resolved_manually},
                                                  {ss::cancelled, ss::resolved_manually}};

// A legal route from pending to each state.
std::vector<ts> route_to(ts s) {
  switch (s) {
  case ts::pending:
    return {};
  case ts::in_progress:
    return {ts::in_progress};
  case ts::complete:
    return {ts::in_progress, ts::complete};
  case ts::error:
    return {ts::in_progress, ts::error};
  case ts::cancelled:
    return {ts::cancelled};
  case ts::resolved_manually:
    return {ts::resolved_manually};
  }
  return {};
}

std::vector<ss> route_to(ss s) {
  switch (s) {
  case ss::pending:
    return {};
  case ss::enqueued:
    return {ss::enqueued};
  case ss::in_progress:
    return {ss::enqueued, ss::in_progress};
  case ss::complete:
    return {ss::enqueued, ss::in_progress, ss::complete};
  case ss::error:
    return {ss::enqueued, ss::in_progress, ss::error};
  case ss::cancelled:
    return {ss::cancelled};
  case ss::resolved_manually:
    return {ss::resolved_manually};
  }
  return {};
}

// Tries one transition in a savepoint; returns the error text, empty on success.
template <class State, class Fn>
std::string try_transition(pqxx::work& tx, const std::string& uuid, State to, Fn fn) {
  test::savepoint sp{tx};
  try {
    fn(tx, std::vector<std::string>{uuid}, to);
    sp.release();
    return {};
  } catch (const store_error& e) {
    CHECK(e.code() == store_errc::illegal_transition);
    return e.what();
  }
}

template <class State>
std::string pair_text(State from, State to) {
  return "from " + std::string{to_string(from)} + " to " + std::string{to_string(to)};
}

} // namespace

TEST_CASE("every task state pair is accepted exactly when the state machine allows it") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto tmpl = test::flat_template("single", 1);
  register_template(tx, tmpl);
  int n = 0;
  for (auto from : all_task_states) {
    for (auto to : all_task_states) {
      CAPTURE(pair_text(from, to));
      auto task = create_task(tx, test::request_for(tmpl, {{"pair", n++}})).task_uuid;
      for (auto s : route_to(from))
        transition_tasks(tx, {task}, s);
      REQUIRE(current_task_state(tx, task) == from);
      auto error = try_transition(tx, task, to, [](auto& t, const auto& ids, ts target) {
        transition_tasks(t, ids, target);
      });
      if (allowed_task.count({from, to}) > 0) {
        CHECK(error.empty());
        CHECK(current_task_state(tx, task) == to);
      } else {
        CHECK(error.find(pair_text(from, to)) != std::string::npos);
        CHECK(error.find(task) != std::string::npos);
        CHECK(current_task_state(tx, task) == from);
      }
    }
  }
}

TEST_CASE("every step state pair is accepted exactly when the state machine allows it") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  constexpr int pairs = 7 * 7;
  auto task = test::make_task(tx, test::flat_template("wide", pairs));
  auto ids = test::step_ids(tx, task);
  int n = 0;
  for (auto from : all_step_states) {
    for (auto to : all_step_states) {
      CAPTURE(pair_text(from, to));
      auto step = ids.at("s" + std::to_string(n++));
      for (auto s : route_to(from))
        transition_steps(tx, {step}, s);
      REQUIRE(current_step_state(tx, step) == from);
      auto error = try_transition(tx, step, to, [](auto& t, const auto& ids, ss target) {
        transition_steps(t, ids, target);
      });
      if (allowed_step.count({from, to}) > 0) {
        CHECK(error.empty());
        CHECK(current_step_state(tx, step) == to);
      } else {
        CHECK(error.find(pair_text(from, to)) != std::string::npos);
        CHECK(error.find(step) != std::string::npos);
        CHECK(current_step_state(tx, step) == from);
      }
    }
  }
}

TEST_CASE("a batch with one illegal row changes no row and writes no history") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::flat_template("trio", 3));
  auto ids = test::step_ids(tx, task);
  test::complete_steps(tx, {ids.at("s1")});
  auto history_before = step_transition_history(tx, task).size();
  {
    test::savepoint sp{tx};
    CHECK_THROWS_AS(
        transition_steps(tx, {ids.at("s0"), ids.at("s1"), ids.at("s2")}, step_state::enqueued),
        store_error);
  }
  CHECK(current_step_state(tx, ids.at("s0")) == step_state::pending);
  CHECK(current_step_state(tx, ids.at("s1")) == step_state::complete);
  CHECK(current_step_state(tx, ids.at("s2")) == step_state::pending);
  CHECK(step_transition_history(tx, task).size() == history_before);
}

TEST_CASE("exactly one transition per task and per step is the most recent") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::flat_template("pair", 2));
  auto ids = test::step_ids(tx, task);
  transition_tasks(tx, {task}, task_state::in_progress, {{"by", "test"}});
  test::complete_steps(tx, {ids.at("s0"), ids.at("s1")});
  auto current = tx.exec_params1(
      "SELECT (SELECT count(*) FROM task_transitions WHERE task_uuid = $1 AND most_recent),"
      " (SELECT count(*) FROM workflow_step_transitions WHERE most_recent)",
      task);
  CHECK(current[0].as<int>() == 1);
  CHECK(current[1].as<int>() == 2);
  {
    test::savepoint sp{tx};
    CHECK_THROWS_AS(tx.exec_params0("INSERT INTO task_transitions (task_uuid, from_state,"
                                    " to_state, sort_key, most_recent)"
                                    " VALUES ($1, 'in_progress', 'error', 99, true)",
                                    task),
                    pqxx::unique_violation);
  }
  {
    test::savepoint sp{tx};
    CHECK_THROWS_AS(tx.exec_params0("INSERT INTO workflow_step_transitions (workflow_step_uuid,"
                                    " from_state, to_state, sort_key, most_recent)"
                                    " VALUES ($1, 'complete', 'error', 99, true)",
                                    ids.at("s0")),
                    pqxx::unique_violation);
  }
}

TEST_CASE("steps and histories go with their owners: deleted, truncated, keys fixed") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto tmpl = test::flat_template("owned", 2);
  auto gone = test::make_task(tx, tmpl);
  auto kept = test::make_task(tx, tmpl, {{"i", 2}});
  auto gone_steps = test::step_ids(tx, gone);
  transition_tasks(tx, {gone, kept}, task_state::in_progress, {{"by", "test"}});
  test::complete_steps(tx, {gone_steps.at("s0")});
  auto history_of = [&](const std::string& task) {
    auto r = tx.exec_params1(
        "SELECT (SELECT count(*) FROM task_transitions WHERE task_uuid = $1),"
        " (SELECT count(*) FROM workflow_step_transitions st JOIN workflow_steps s"
        "    USING (workflow_step_uuid) WHERE s.task_uuid = $1)",
        task);
    return std::pair{r[0].as<int>(), r[1].as<int>()};
  };
  auto orphans = [&] {
    return tx
        .exec1("SELECT (SELECT count(*) FROM task_transitions tt WHERE NOT EXISTS"
               "   (SELECT 1 FROM tasks t WHERE t.task_uuid = tt.task_uuid))"
               " + (SELECT count(*) FROM workflow_step_transitions st WHERE NOT EXISTS"
               "   (SELECT 1 FROM workflow_steps s"
               "     WHERE s.workflow_step_uuid = st.workflow_step_uuid))")[0]
        .as<int>();
  };
  CHECK(history_of(gone) == std::pair{2, 5});
  CHECK(history_of(kept) == std::pair{2, 2});
  // A deleted task takes its steps and its history, and its steps theirs.
  tx.exec_params0("DELETE FROM tasks WHERE task_uuid = $1", gone);
  CHECK(orphans() == 0);
  CHECK(tx.exec_params1("SELECT count(*) FROM workflow_steps WHERE task_uuid = $1", gone)[0]
          .as<int>() == 0);
  CHECK(tx.exec1("SELECT count(*) FROM task_transitions")[0].as<int>() == 2);
  CHECK(tx.exec1("SELECT count(*) FROM workflow_step_transitions")[0].as<int>() == 2);
  // A deleted step takes its own.
  tx.exec_params0("DELETE FROM workflow_steps WHERE task_uuid = $1 AND name = 's1'", kept);
  CHECK(orphans() == 0);
  CHECK(history_of(kept) == std::pair{2, 1});
  // Keys cannot change, and a template step its steps name stays.
  for (const char* sql : {"UPDATE tasks SET task_uuid = gen_random_uuid()",
                          "UPDATE workflow_steps SET workflow_step_uuid = gen_random_uuid()",
                          "UPDATE named_steps SET named_step_uuid = gen_random_uuid()",
                          "DELETE FROM named_steps WHERE name = 's0'",
                          "DELETE FROM named_tasks",
                          "UPDATE named_tasks SET named_task_uuid = gen_random_uuid()",
                          "UPDATE tasks SET named_task_uuid = gen_random_uuid()"}) {
    test::savepoint sp{tx};
    CHECK_THROWS_AS(tx.exec_params0(sql), pqxx::foreign_key_violation);
  }
  // One no step names may go.
  tx.exec0("DELETE FROM named_steps WHERE name = 's1'");
  // A task's namespace is its template's.
  {
    test::savepoint sp{tx};
    tx.exec_params0("INSERT INTO namespaces (name) VALUES ('elsewhere')");
    CHECK_THROWS_AS(tx.exec_params0("UPDATE tasks SET namespace_uuid ="
                                    " (SELECT namespace_uuid FROM namespaces"
                                    "   WHERE name = 'elsewhere') WHERE task_uuid = $1",
                                    kept),
                    pqxx::foreign_key_violation);
  }
  // Truncating the tasks truncates their steps and the histories.
  tx.exec0("TRUNCATE tasks");
  CHECK(tx.exec1("SELECT count(*) FROM workflow_steps")[0].as<int>() == 0);
  CHECK(tx.exec1("SELECT count(*) FROM task_transitions")[0].as<int>() == 0);
  CHECK(tx.exec1("SELECT count(*) FROM workflow_step_transitions")[0].as<int>() == 0);
}

TEST_CASE("a new task must name a template of its namespace, and a template that tasks use stays") {
  testing::scratch_db db;
  auto conn = db.connect();
  auto used = test::flat_template("used", 1);
  auto unused = test::flat_template("unused", 1);
  std::string unused_key;
  {
    pqxx::work tx{conn};
    register_template(tx, unused);
    test::make_task(tx, used);
    unused_key = tx.exec1("SELECT named_task_uuid::text FROM named_tasks WHERE name = 'unused'")[0]
                   .as<std::string>();
    tx.commit();
  }
  // One statement with a task whose template does not exist, or whose
  // namespace is not its template's, inserts nothing.
  auto insert = [&](pqxx::transaction_base& tx, const std::string& template_expr,
                    const std::string& namespace_expr) {
    tx.exec0("INSERT INTO tasks (named_task_uuid, namespace_uuid, identity_hash)"
             " SELECT nt.named_task_uuid, nt.namespace_uuid, 'h' || nt.name FROM named_tasks nt"
             " UNION ALL SELECT " + template_expr + ", " + namespace_expr + ", 'odd'");
  };
  const std::string used_template = "(SELECT named_task_uuid FROM named_tasks WHERE name = 'used')";
  const std::string used_namespace = "(SELECT namespace_uuid FROM named_tasks WHERE name = 'used')";
  for (const auto& [tmpl, ns] :
       {std::pair{std::string{"gen_random_uuid()"}, used_namespace},
        std::pair{used_template, std::string{"gen_random_uuid()"}}}) {
    pqxx::work tx{conn};
    CHECK_THROWS_AS(insert(tx, tmpl, ns), pqxx::foreign_key_violation);
  }
  {
    pqxx::work tx{conn};
    insert(tx, used_template, used_namespace); // all three name templates
    CHECK(tx.exec1("SELECT count(*) FROM tasks")[0].as<int>() == 4);
  }
  // While a transaction creates a task of a template, the template cannot be
  // deleted: the deletion waits, and once the task is committed, fails.
  pqxx::connection other{db.url()};
  {
    pqxx::work creating{conn};
    creating.exec0("INSERT INTO tasks (named_task_uuid, namespace_uuid, identity_hash)"
                   " SELECT named_task_uuid, namespace_uuid, 'fresh' FROM named_tasks"
                   " WHERE name = 'unused'");
    {
      pqxx::work deleting{other};
      deleting.exec0("SET LOCAL lock_timeout = '200ms'");
      CHECK_THROWS_AS(deleting.exec0("DELETE FROM named_tasks WHERE name = 'unused'"),
                      pqxx::sql_error);
    }
    creating.commit();
  }
  {
    pqxx::work deleting{other};
    CHECK_THROWS_AS(deleting.exec0("DELETE FROM named_tasks WHERE name = 'unused'"),
                    pqxx::foreign_key_violation);
  }
  // A template no task names may be deleted.
  pqxx::work tx{conn};
  tx.exec0("DELETE FROM tasks WHERE identity_hash = 'fresh'");
  tx.exec_params0("DELETE FROM named_tasks WHERE named_task_uuid = $1", unused_key);
  CHECK(tx.exec1("SELECT count(*) FROM named_tasks")[0].as<int>() == 1);
}

TEST_CASE("edges join steps of their own task and go with their steps") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto tmpl = test::diamond_template();
  auto one = test::make_task(tx, tmpl, {{"i", 1}});
  auto two = test::make_task(tx, tmpl, {{"i", 2}});
  auto ids_one = test::step_ids(tx, one);
  auto ids_two = test::step_ids(tx, two);
  auto edges = [&] { return tx.exec1("SELECT count(*) FROM workflow_step_edges")[0].as<int>(); };
  CHECK(edges() == 8);
  // An edge between steps of two tasks, or to a step that does not exist.
  for (const auto& [task, from, to] :
       {std::tuple{one, ids_one.at("a"), ids_two.at("d")},
        std::tuple{one, ids_two.at("a"), ids_one.at("d")},
        std::tuple{two, ids_one.at("a"), ids_one.at("d")},
        std::tuple{one, ids_one.at("a"), std::string{"00000000-0000-4000-8000-000000000000"}}}) {
    test::savepoint sp{tx};
    CHECK_THROWS_AS(tx.exec_params0("INSERT INTO workflow_step_edges (task_uuid, from_step_uuid,"
                                    " to_step_uuid) VALUES ($1, $2, $3)",
                                    task, from, to),
                    pqxx::foreign_key_violation);
  }
  {
    test::savepoint sp{tx};
    CHECK_THROWS_AS(tx.exec_params0("UPDATE workflow_step_edges SET to_step_uuid = $1"
                                    " WHERE from_step_uuid = $2 AND to_step_uuid = $3",
                                    ids_one.at("d"), ids_one.at("a"), ids_one.at("b")),
                    pqxx::foreign_key_violation);
  }
  // A step takes the edges at both its ends; a task all of its steps' edges.
  tx.exec_params0("DELETE FROM workflow_steps WHERE workflow_step_uuid = $1", ids_two.at("b"));
  CHECK(edges() == 6);
  tx.exec_params0("DELETE FROM tasks WHERE task_uuid = $1", one);
  CHECK(edges() == 2);
  CHECK(tx.exec_params1("SELECT count(*) FROM workflow_step_edges WHERE task_uuid <> $1", two)[0]
          .as<int>() == 0);
  tx.exec0("TRUNCATE workflow_steps");
  CHECK(edges() == 0);
  CHECK(tx.exec1("SELECT count(*) FROM workflow_step_transitions")[0].as<int>() == 0);
}

TEST_CASE("tasker_is_uuid_text accepts exactly what the UUID regular expression accepts") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  // Every single-character substitution, deletion and insertion of a UUID,
  // with characters either side of the hex ranges and the hyphen, and a few
  // whole texts.
  auto r = tx.exec1(
      "WITH base(b) AS (VALUES ('a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d'),"
      "                        ('A0B1C2D3-E4F5-4A6B-8C7D-9E0F1A2B3C4D')),"
      " chars(c) AS (SELECT unnest(ARRAY['-', '0', '9', 'a', 'f', 'A', 'F', 'g', 'G', '/',"
      "                                  ':', '`', '@', ' ', '_', '%', E'\\n', 'é'])),"
      " candidates(s) AS ("
      "   SELECT b FROM base"
      "   UNION ALL SELECT overlay(b PLACING c FROM p FOR 1)"
      "     FROM base, chars, generate_series(1, 36) p"
      "   UNION ALL SELECT overlay(b PLACING '' FROM p FOR 1)"
      "     FROM base, generate_series(1, 36) p"
      "   UNION ALL SELECT overlay(b PLACING c FROM p FOR 0)"
      "     FROM base, chars, generate_series(1, 37) p"
      "   UNION ALL SELECT unnest(ARRAY['', ' a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d',"
      "                                 'a0b1c2d3e4f54a6b8c7d9e0f1a2b3c4d',"
      "                                 '{a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d}',"
      "                                 'a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d-',"
      "                                 '------------------------------------']))"
      " SELECT count(*) FILTER (WHERE tasker_is_uuid_text(s) IS DISTINCT FROM"
      "          (s ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$')),"
      "        count(*) FILTER (WHERE tasker_is_uuid_text(s)),"
      "        count(*) FILTER (WHERE NOT tasker_is_uuid_text(s)),"
      "        tasker_is_uuid_text(NULL) IS NULL"
      "   FROM candidates");
  CHECK(r[0].as<int>() == 0);
  CHECK(r[1].as<int>() > 100);
  CHECK(r[2].as<int>() > 1000);
  CHECK(r[3].as<bool>());
}

TEST_CASE("the history lists each step's transitions in order, chained from state to state") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::flat_template("solo", 1));
  auto step = test::step_ids(tx, task).at("s0");
  test::drive(tx, {step}, {step_state::enqueued, step_state::in_progress, step_state::error});
  transition_steps(tx, {step}, step_state::pending, {{"reason", "retry"}});
  auto history = step_transition_history(tx, task);
  REQUIRE(history.size() == 5);
  CHECK_FALSE(history[0].from.has_value());
  CHECK(history[0].to == "pending");
  for (std::size_t i = 1; i < history.size(); ++i) {
    CHECK(history[i].sort_key == history[i - 1].sort_key + 1);
    REQUIRE(history[i].from.has_value());
    CHECK(*history[i].from == history[i - 1].to);
    CHECK(history[i].most_recent == (i + 1 == history.size()));
  }
  CHECK(history.back().metadata == nlohmann::json{{"reason", "retry"}});
  auto attempts = tx.exec_params1("SELECT attempts FROM workflow_steps WHERE"
                                  " workflow_step_uuid = $1",
                                  step)[0]
                      .as<int>();
  CHECK(attempts == 1);
  auto task_history = task_transition_history(tx, task);
  REQUIRE(task_history.size() == 1);
  CHECK(task_history[0].to == "pending");
}

TEST_CASE("a transition of an unknown task is refused as not found") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  const std::string ghost = "00000000-0000-4000-8000-000000000000";
  try {
    transition_tasks(tx, {ghost}, task_state::in_progress);
    FAIL("expected store_error");
  } catch (const store_error& e) {
    CHECK(e.code() == store_errc::not_found);
    CHECK(std::string{e.what()}.find(ghost) != std::string::npos);
  }
}

TEST_CASE("a batch transition writes each step's own metadata once, and a repeated uuid once") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::flat_template("pair", 2));
  auto ids = test::step_ids(tx, task);
  const auto s0 = ids.at("s0");
  const auto s1 = ids.at("s1");
  auto moved = tx.exec_params(
      "SELECT workflow_step_uuid::text, from_state, to_state FROM tasker_transition_steps_each("
      "$1::uuid[], 'enqueued', ARRAY[$2::jsonb, $3::jsonb, $4::jsonb])",
      detail::pg_array({s1, s0, s1}), R"({"n": 1})", R"({"n": 0})", R"({"n": 2})");
  REQUIRE(moved.size() == 2);
  for (const auto& row : moved) {
    CHECK(row[1].as<std::string>() == "pending");
    CHECK(row[2].as<std::string>() == "enqueued");
  }
  std::map<std::string, nlohmann::json> latest;
  std::map<std::string, int> rows;
  for (const auto& h : step_transition_history(tx, task)) {
    ++rows[h.step_uuid];
    if (h.most_recent)
      latest[h.step_uuid] = h.metadata;
  }
  CHECK(rows[s0] == 2);
  CHECK(rows[s1] == 2);
  CHECK(latest[s0] == nlohmann::json{{"n", 0}});
  CHECK(latest[s1] == nlohmann::json{{"n", 1}}); // the first of the repeated uuid's entries
  CHECK(current_step_state(tx, s0) == step_state::enqueued);
  CHECK(current_step_state(tx, s1) == step_state::enqueued);
}
