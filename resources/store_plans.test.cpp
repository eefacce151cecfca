// The hot functions keep one plan per statement and connection
// (plan_cache_mode = force_generic_plan), made when the connection first runs
// them: on a new database or after a quiet spell, when the tables are nearly
// empty. These tests make the plans on empty tables, fill the tables as a
// burst of work does, and then read the executed plans (auto_explain, sent to
// the client) of one small batch through the whole step path: every
// statement must read the batch's own rows, not the burst.
//
// They also check how the step path writes: a started step's row and a
// completed task's row are rewritten in place (heap-only updates, no new
// index entries).

#include "messaging/queue_client.hpp"
#include "resources/store_execution.hpp"
#include "resources/store_test_support.hpp"
#include "tests/support/scratch_db.hpp"
#include "tests/support/source_tree.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace tasker;
using namespace tasker::resources;

namespace {

constexpr const char* node_id = "plan-node";
constexpr const char* queue_suffix = "_queue";

/// a -> b in namespace shop.
messaging::task_template chain_template() {
  messaging::task_template t;
  t.namespace_name = "shop";
  t.name = "chain";
  t.version = "1.0.0";
  messaging::step_template a;
  a.name = "a";
  a.handler = "noop";
  messaging::step_template b;
  b.name = "b";
  b.handler = "noop";
  b.depends_on = {"a"};
  t.steps = {b, a};
  return t;
}

/// Registers the chain template and its namespace queue.
void register_chain(pqxx::connection& conn) {
  pqxx::work tx{conn};
  register_template(tx, chain_template());
  messaging::queue_client::create_queue(tx, std::string{"shop"} + queue_suffix);
  tx.commit();
}

nlohmann::json requests(int count, const std::string& tag) {
  auto out = nlohmann::json::array();
  for (int i = 0; i < count; ++i)
    out.push_back({{"namespace", "shop"},
                   {"task_name", "chain"},
                   {"task_version", "1.0.0"},
                   {"context", {{"tag", tag}, {"n", i}}}});
  return out;
}

/// A step a dispatch sent: its keys and the attempt its message starts.
struct sent_step {
  std::string task_uuid;
  std::string step_uuid;
  int attempt = 1;
};

/// The steps' keys as a uuid[] literal.
std::string uuid_array(const std::vector<sent_step>& steps) {
  std::string out = "{";
  for (const auto& s : steps)
    out += (out.size() > 1 ? "," : "") + s.step_uuid;
  return out + "}";
}

/// Rows of `table` this transaction updated, and how many of those updates
/// were heap-only (same page, no new index entries).
std::pair<int, int> updates_in_place(pqxx::work& tx, const std::string& table) {
  auto row = tx.exec_params1("SELECT pg_stat_get_xact_tuples_updated($1::regclass),"
                             " pg_stat_get_xact_tuples_hot_updated($1::regclass)",
                             table);
  return {row[0].as<int>(), row[1].as<int>()};
}

/// The enqueued steps of `tasks`, read through each task's key.
std::vector<sent_step> enqueued_steps(pqxx::work& tx, const std::vector<std::string>& tasks) {
  auto rows = tx.exec_params("SELECT s.task_uuid, s.workflow_step_uuid, s.attempts + 1"
                             " FROM unnest($1::uuid[]) t(id)"
                             " CROSS JOIN LATERAL (SELECT * FROM workflow_steps s0"
                             "   WHERE s0.task_uuid = t.id OFFSET 0) s"
                             " WHERE s.current_state = 'enqueued'"
                             " ORDER BY s.task_uuid, s.position",
                             detail::pg_array(tasks));
  std::vector<sent_step> out;
  for (const auto& row : rows)
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<int>()});
  return out;
}

/// Creates `count` tasks started with their first steps enqueued and sent, as
/// the request processor does; returns the enqueued steps.
std::vector<sent_step> create_started(pqxx::connection& conn, int count, const std::string& tag) {
  pqxx::work tx{conn};
  auto made = create_start_and_dispatch(tx, requests(count, tag), node_id, true, queue_suffix, 30);
  REQUIRE(made.created.size() == static_cast<std::size_t>(count));
  CHECK(made.dispatch.sent == static_cast<std::size_t>(count));
  std::vector<std::string> tasks;
  for (const auto& t : made.created)
    tasks.push_back(t.task_uuid);
  auto steps = enqueued_steps(tx, tasks);
  tx.commit();
  return steps;
}

/// Runs `steps` to completion as a worker and the result processor do, one
/// hop: start, post success, apply and advance, dispatch the next steps,
/// finalize; `before_commit` sees the result processor's transaction last.
/// Returns the steps that became enqueued.
std::vector<sent_step> complete_hop(pqxx::connection& conn, const std::vector<sent_step>& steps,
                                    const std::function<void(pqxx::work&)>& before_commit = {}) {
  auto results = nlohmann::json::array();
  std::vector<std::string> tasks;
  for (const auto& s : steps) {
    results.push_back({{"task_uuid", s.task_uuid},
                       {"step_uuid", s.step_uuid},
                       {"status", "success"},
                       {"attempt", s.attempt},
                       {"results", {{"ok", true}}}});
    tasks.push_back(s.task_uuid);
  }
  {
    pqxx::work tx{conn};
    auto started = tx.exec_params1(
        "SELECT count(*) FILTER (WHERE started) FROM tasker_start_steps($1::uuid[])",
        uuid_array(steps));
    REQUIRE(started[0].as<std::size_t>() == steps.size());
    tx.commit();
  }
  pqxx::work tx{conn};
  auto applied = apply_results_and_dispatch(tx, results, node_id, queue_suffix, 30);
  for (const auto& r : applied.results)
    REQUIRE(r.outcome == result_outcome::completed);
  auto next = enqueued_steps(tx, tasks);
  CHECK(applied.dispatch.sent == next.size());
  if (before_commit)
    before_commit(tx);
  tx.commit();
  return next;
}

/// One small batch through every hot statement: create and start, two hops,
/// a claim that finds nothing.
void run_batch(pqxx::connection& conn, int count, const std::string& tag) {
  auto first = create_started(conn, count, tag);
  REQUIRE(first.size() == static_cast<std::size_t>(count));
  auto second = complete_hop(conn, first);
  REQUIRE(second.size() == static_cast<std::size_t>(count));
  CHECK(complete_hop(conn, second).empty());
  pqxx::work tx{conn};
  CHECK(claim_and_start_tasks(tx, node_id, 10, 60, 60.0).empty());
  tx.commit();
}

/// The first five of `lines`, each on a line of its own.
std::string first_five(const std::vector<std::string>& lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size() && i < 5; ++i)
    out += "\n" + lines[i];
  return out;
}

/// Has every statement of `conn` (nested ones too) send its plan, with row
/// counts, to the client as a notice.
void explain_to_client(pqxx::connection& conn) {
  pqxx::nontransaction tx{conn};
  tx.exec0("LOAD 'auto_explain'");
  tx.exec0("SET auto_explain.log_min_duration = 0");
  tx.exec0("SET auto_explain.log_nested_statements = on");
  tx.exec0("SET auto_explain.log_analyze = on");
  tx.exec0("SET auto_explain.log_timing = off");
  tx.exec0("SET auto_explain.log_level = notice");
  tx.exec0("SET client_min_messages = notice");
}

/// Collects the plans auto_explain sends to the client.
class plan_collector final : public pqxx::errorhandler {
public:
  explicit plan_collector(pqxx::connection_base& conn) : pqxx::errorhandler{conn} {}
  bool operator()(const char msg[]) noexcept override {
    try {
      std::string text{msg};
      if (text.find("plan:") != std::string::npos)
        plans.push_back(std::move(text));
    } catch (...) {
    }
    return false;
  }
  std::vector<std::string> plans;
};

/// Plan lines that read more than `limit` rows of the task and step tables
/// or their histories, or throw away more than `limit` rows in a filter.
std::vector<std::string> wide_reads(const std::vector<std::string>& plans, long limit) {
  static const std::regex scan{
      R"(on (tasks|workflow_steps|task_transitions|workflow_step_transitions)\w*\b.*actual rows=(\d+) loops=(\d+))"};
  static const std::regex removed{R"(Rows Removed by (Join )?Filter: (\d+))"};
  std::vector<std::string> out;
  for (const auto& plan : plans) {
    auto query = plan.substr(0, plan.find('\n', plan.find("Query Text:")));
    std::size_t start = 0;
    while (start < plan.size()) {
      auto end = plan.find('\n', start);
      if (end == std::string::npos)
        end = plan.size();
      auto line = plan.substr(start, end - start);
      start = end + 1;
      std::smatch m;
      bool wide = false;
      if (std::regex_search(line, m, scan))
        wide = std::stol(m[2]) * std::stol(m[3]) > limit;
      else if (std::regex_search(line, m, removed))
        wide = std::stol(m[2]) > limit;
      if (wide)
        out.push_back(query + "\n  " + line);
    }
  }
  return out;
}

} // namespace

TEST_CASE("plans made on empty tables read only a batch's own rows after a burst") {
  testing::scratch_db db;
  auto setup = db.connect();
  register_chain(setup);
  {
    pqxx::work tx{setup};
    // Statistics stay those of the empty tables for the whole test.
    for (const char* table : {"tasks", "workflow_steps", "task_transitions",
                              "workflow_step_transitions"})
      tx.exec0(std::string{"ALTER TABLE "} + table + " SET (autovacuum_enabled = off)");
    tx.commit();
  }

  // The node's connection makes its plans on empty tables.
  auto conn = db.connect();
  run_batch(conn, 1, "warm");

  // A burst: 2,000 started tasks with their first steps enqueued, 500 of
  // them a hop further (first step complete, second enqueued).
  std::vector<sent_step> burst;
  for (int i = 0; i < 20; ++i) {
    auto steps = create_started(setup, 100, "burst" + std::to_string(i));
    if (i < 5)
      burst.insert(burst.end(), steps.begin(), steps.end());
  }
  complete_hop(setup, burst);

  explain_to_client(conn);
  plan_collector collector{conn};
  run_batch(conn, 5, "observed");

  REQUIRE(collector.plans.size() > 20);
  auto wide = wide_reads(collector.plans, 50);
  CHECK_MESSAGE(wide.empty(), wide.size(), " plan lines read beyond the batch:", first_five(wide));
}

namespace {

// Polls `sql`, which must find nothing, on a connection that made its plans
// on empty tables, then with 2,000 tasks in flight (started on creation):
// no line of those plans may read more than 50 rows.
void check_idle_poll(const std::string& sql, const std::string& beyond) {
  testing::scratch_db db;
  auto setup = db.connect();
  register_chain(setup);
  auto conn = db.connect();
  auto poll = [&] {
    pqxx::nontransaction tx{conn};
    return tx.exec(sql).size();
  };
  CHECK(poll() == 0); // its plans made on empty tables
  for (int i = 0; i < 20; ++i)
    create_started(setup, 100, "busy" + std::to_string(i));
  explain_to_client(conn);
  plan_collector collector{conn};
  for (int i = 0; i < 7; ++i) // past the plan cache's custom plans
    CHECK(poll() == 0);
  REQUIRE_FALSE(collector.plans.empty());
  auto wide = wide_reads(collector.plans, 50);
  CHECK_MESSAGE(wide.empty(), wide.size(), " plan lines read beyond ", beyond, ":",
                first_five(wide));
}

} // namespace

TEST_CASE("an idle claimer's poll reads no task it cannot claim") {
  check_idle_poll("SELECT * FROM tasker_claim_and_start_tasks('idle-node', 10, 60, 60)",
                  "the claimable tasks");
}

TEST_CASE("an idle finalizer's poll reads only the tasks flagged for attention") {
  check_idle_poll("SELECT * FROM tasker_finalize_tasks(10)", "the flagged tasks");
}

TEST_CASE("starting a step rewrites its row in place, with no new index entries") {
  testing::scratch_db db;
  auto conn = db.connect();
  register_chain(conn);
  auto steps = create_started(conn, 10, "hot");
  REQUIRE(steps.size() == 10);
  const auto ids = uuid_array(steps);

  pqxx::work tx{conn};
  auto started = tx.exec_params1(
      "SELECT count(*) FILTER (WHERE started) FROM tasker_start_steps($1::uuid[])", ids);
  REQUIRE(started[0].as<int>() == 10);
  // This transaction's own counts: every row it updated, updated in place.
  auto [updated, in_place] = updates_in_place(tx, "workflow_steps");
  CHECK(updated == 10);
  CHECK(in_place == 10);
  tx.commit();
}

TEST_CASE("completing a task rewrites its row in place, with no new index entries") {
  testing::scratch_db db;
  auto conn = db.connect();
  register_chain(conn);
  auto second = complete_hop(conn, create_started(conn, 10, "done"));
  REQUIRE(second.size() == 10);
  CHECK(complete_hop(conn, second, [](pqxx::work& tx) {
          CHECK(tx.exec1("SELECT count(*) FROM tasks WHERE current_state = 'complete'")[0]
                    .as<int>() == 10);
          // This transaction's own counts: the completions, updated in place.
          auto [updated, in_place] = updates_in_place(tx, "tasks");
          CHECK(updated == 10);
          CHECK(in_place == 10);
        }).empty());
}

TEST_CASE("the bench's store path script takes its tasks through every transition") {
  std::ifstream in{testing::source_dir() / "tools" / "bench" / "store_path.sql"};
  REQUIRE(in.good());
  std::stringstream script;
  script << in.rdbuf();

  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  tx.exec0(script.str());
  CHECK(tx.exec1("SELECT tasker_bench_store_path(5)")[0].as<int>() == 5);
  auto row = tx.exec1(
      "SELECT (SELECT count(*) FROM tasks WHERE current_state = 'complete'),"
      " (SELECT count(*) FROM workflow_steps WHERE current_state = 'complete'),"
      " (SELECT string_agg(to_state, ',' ORDER BY sort_key) FROM task_transitions"
      "   WHERE task_uuid = (SELECT task_uuid FROM tasks LIMIT 1)),"
      " (SELECT string_agg(to_state, ',' ORDER BY sort_key) FROM workflow_step_transitions"
      "   WHERE workflow_step_uuid = (SELECT workflow_step_uuid FROM workflow_steps LIMIT 1))");
  CHECK(row[0].as<int>() == 5);
  CHECK(row[1].as<int>() == 5);
  CHECK(row[2].as<std::string>() == "pending,in_progress,complete");
  CHECK(row[3].as<std::string>() == "pending,enqueued,in_progress,complete");
}

TEST_CASE("a step's process flags cannot disagree with its state") {
  testing::scratch_db db;
  auto conn = db.connect();
  register_chain(conn);
  auto steps = create_started(conn, 1, "flags");
  REQUIRE(steps.size() == 1);
  for (const char* change : {"in_process = false", "processed = true",
                             "current_state = 'pending'", "current_state = 'complete'"}) {
    CAPTURE(change);
    pqxx::work tx{conn};
    CHECK_THROWS_WITH_AS(tx.exec_params0(std::string{"UPDATE workflow_steps SET "} + change +
                                             " WHERE workflow_step_uuid = $1",
                                         steps[0].step_uuid),
                         doctest::Contains("workflow_steps_process_flags_check"),
                         pqxx::check_violation);
  }
}
