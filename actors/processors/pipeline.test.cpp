#include "actors/processors/processor_test_support.hpp"

#include <atomic>
#include <set>
#include <thread>

using namespace tasker;
using namespace tasker::actors::test;
using config::executor_type;

namespace {

// Every step row and the number of step transitions, as text for comparison.
std::string snapshot(pipeline& p) {
  return p.scalar<std::string>(
      "SELECT string_agg(concat_ws('|', name, current_state, attempts, results::text,"
      " backoff_until::text, updated_at::text), ';' ORDER BY name)"
      " || '#' || (SELECT count(*) FROM workflow_step_transitions) FROM workflow_steps");
}

// Makes the only task of a one-step template and returns nothing; the step is "s".
const char* single_step_toml = "namespace = \"shop\"\nname = \"single\"\nversion = \"1.0.0\"\n"
                               "[[steps]]\nname = \"s\"\nhandler = \"noop\"\nretry_limit = 3\n"
                               "backoff = { base_ms = 1000, max_ms = 1000, jitter = 0.0 }\n";

// Turns every queued request into a task with start on creation off: the
// tests that use it follow tasks through the claim path. Returns the count.
std::size_t create_all(pipeline& p) {
  auto cfg = p.cfg;
  cfg.orchestration.start_tasks_on_creation = false;
  tasker::actors::task_request_processor requests{cfg, p.node};
  std::size_t total = 0;
  while (auto n = requests.process_batch(p.conn, 50).items)
    total += n;
  return total;
}

// Counts tasker_tasks_ready notifications on a connection of its own.
struct ready_listener {
  struct receiver : pqxx::notification_receiver {
    int& count;
    receiver(pqxx::connection_base& c, int& n)
        : pqxx::notification_receiver(c, tasker::actors::tasks_ready_channel), count(n) {}
    void operator()(const std::string&, int) override { ++count; }
  };
  pqxx::connection conn;
  int count = 0;
  receiver r{conn, count};
  explicit ready_listener(const std::string& url) : conn(url) {}
  int received() {
    conn.await_notification(0, 200000);
    conn.get_notifs();
    return count;
  }
};

void create_task(pipeline& p, const std::string& name, nlohmann::json context = {}) {
  p.send_request(pipeline::request(name, context.is_null() ? nlohmann::json::object() : context));
  REQUIRE(create_all(p) == 1);
}

// One diamond task, claimed and enqueued: the message of its first step, as
// a worker takes it.
std::vector<messaging::step_message> diamond_first_step(pipeline& p) {
  p.register_toml(diamond_toml());
  create_task(p, "diamond");
  p.claim_and_enqueue();
  auto first = p.take_steps();
  REQUIRE(first.size() == 1);
  return first;
}

} // namespace

TEST_CASE("the processors drive a diamond from request to a complete task") {
  pipeline p;
  p.register_toml(diamond_toml());
  create_task(p, "diamond", {{"order", 7}});

  auto claimed = p.run(executor_type::task_claimer);
  CHECK(claimed.items == 1);
  CHECK(p.task_state() == "in_progress");
  CHECK(p.scalar<std::string>("SELECT claimed_by FROM tasks") == "node-a");

  auto enqueued = p.run(executor_type::step_enqueuer);
  CHECK(enqueued.items == 1);
  CHECK(p.scalar<bool>("SELECT claimed_by IS NULL FROM tasks"));
  auto states = p.step_states();
  CHECK(states["a"] == "enqueued");
  CHECK(states["b"] == "pending");
  auto first = p.take_steps();
  REQUIRE(names(first) == std::vector<std::string>{"a"});
  CHECK(first[0].attempt == 1);
  CHECK(first[0].task_name == "diamond");
  CHECK(first[0].context["order"] == 7);

  CHECK_FALSE(p.scalar<bool>("SELECT needs_attention FROM tasks")); // a is in flight
  CHECK(p.run(executor_type::task_claimer).items == 0);

  // The result processor advances the task itself: b and c are enqueued in
  // the transaction that completes a, without a claim.
  p.post(pipeline::success(first[0], {{"from", "a"}}));
  CHECK(p.run(executor_type::step_result_processor).items == 1);
  states = p.step_states();
  CHECK(states["a"] == "complete");
  CHECK(states["b"] == "enqueued");
  CHECK(states["c"] == "enqueued");
  CHECK_FALSE(p.scalar<bool>("SELECT needs_attention FROM tasks"));
  auto branches = p.take_steps();
  REQUIRE(names(branches) == std::vector<std::string>{"b", "c"});
  CHECK(branches[0].dependency_results["a"]["from"] == "a");

  // b alone leaves the join waiting for c; then c releases it.
  p.post(pipeline::success(branches[0], {{"from", "b"}}));
  CHECK(p.run(executor_type::step_result_processor).items == 1);
  CHECK(p.step_states()["d"] == "pending");
  CHECK(p.take_steps().empty());
  p.post(pipeline::success(branches[1], {{"from", "c"}}));
  CHECK(p.run(executor_type::step_result_processor).items == 1);
  CHECK(p.run(executor_type::task_finalizer).items == 0); // d has not run
  auto join = p.take_steps();
  REQUIRE(names(join) == std::vector<std::string>{"d"});
  CHECK(join[0].dependency_results["b"]["from"] == "b");
  CHECK(join[0].dependency_results["c"]["from"] == "c");

  // The last result finalizes the task in the same transaction.
  p.post(pipeline::success(join[0], {{"done", true}}));
  p.run(executor_type::step_result_processor);
  CHECK(p.task_state() == "complete");
  CHECK(p.run(executor_type::task_finalizer).items == 0);
  CHECK(p.scalar<bool>("SELECT complete FROM tasks"));
  CHECK(p.scalar<std::string>("SELECT results->>'done' FROM workflow_steps WHERE name = 'd'") ==
        "true");
  // every step went pending -> enqueued -> in_progress -> complete
  CHECK(p.scalar<int>("SELECT count(*) FROM workflow_step_transitions") == 16);
}

TEST_CASE("a new task starts and sends its first step in the transaction that creates it") {
  pipeline p;
  p.register_toml(diamond_toml());
  p.send_request(pipeline::request("diamond", {{"order", 8}}));
  ready_listener listener{p.db.url()};
  CHECK(p.run(executor_type::task_request_processor).items == 1);
  CHECK(listener.received() == 0); // nothing was left to wake a claimer for
  CHECK(p.task_state() == "in_progress");
  CHECK(p.scalar<bool>("SELECT claimed_by IS NULL FROM tasks"));
  CHECK_FALSE(p.scalar<bool>("SELECT needs_attention FROM tasks"));
  // Written once, in the first page of a new table: inserted started and
  // settled, it needs no second version; its history has both rows.
  CHECK(p.scalar<std::string>("SELECT ctid::text FROM tasks") == "(0,1)");
  CHECK(p.scalar<std::string>("SELECT string_agg(coalesce(from_state, '-') || '>' || to_state"
                              " || ':' || sort_key || ':' || most_recent, ' ' ORDER BY sort_key)"
                              " FROM task_transitions")
        == "->pending:1:false pending>in_progress:2:true");
  auto states = p.step_states();
  CHECK(states["a"] == "enqueued");
  CHECK(states["b"] == "pending");
  // The root step was created enqueued, with both history rows, and written once.
  CHECK(p.scalar<std::string>("SELECT string_agg(coalesce(t.from_state, '-') || '>' || t.to_state"
                              " || ':' || t.sort_key || ':' || t.most_recent || ':'"
                              " || coalesce(t.metadata->>'event', ''), ' ' ORDER BY t.sort_key)"
                              " FROM workflow_step_transitions t JOIN workflow_steps s"
                              " USING (workflow_step_uuid) WHERE s.name = 'a'")
        == "->pending:1:false:created pending>enqueued:2:true:enqueued");
  CHECK(p.scalar<std::string>("SELECT max(ctid)::text FROM workflow_steps") == "(0,4)");
  auto first = p.take_steps();
  REQUIRE(names(first) == std::vector<std::string>{"a"});
  CHECK(first[0].context["order"] == 8);
  CHECK(p.scalar<std::string>("SELECT metadata->>'event' FROM task_transitions"
                              " WHERE to_state = 'in_progress'") == "started");
  // Nothing is left for the claim path.
  CHECK(p.run(executor_type::task_claimer).items == 0);
  CHECK(p.run(executor_type::step_enqueuer).items == 0);
}

TEST_CASE("tasks created for the claim path wake the claimers") {
  pipeline p;
  p.register_toml(diamond_toml());
  p.send_request(pipeline::request("diamond", {{"n", 1}}));
  ready_listener listener{p.db.url()};
  REQUIRE(create_all(p) == 1); // start on creation off
  CHECK(listener.received() == 1);
}

TEST_CASE("a new task waits for the claim path while another claimable task is ready") {
  pipeline p;
  p.register_toml(diamond_toml());
  create_task(p, "diamond", {{"first", true}}); // claimable, not started
  p.send_request(pipeline::request("diamond", {{"first", false}}));
  ready_listener listener{p.db.url()};
  CHECK(p.run(executor_type::task_request_processor).items == 1);
  CHECK(listener.received() == 1); // the claimers are woken for it
  CHECK(p.scalar<int>("SELECT count(*) FROM tasks WHERE current_state = 'pending'") == 2);
  CHECK(p.take_steps().empty());
  p.claim_and_enqueue();
  CHECK(p.scalar<int>("SELECT count(*) FROM tasks WHERE current_state = 'in_progress'") == 2);
  CHECK(p.take_steps().size() == 2);
}

TEST_CASE("failed attempts back off per policy, retry_after wins, and exhaustion fails the task") {
  pipeline p;
  p.register_toml(single_step_toml);
  create_task(p, "single");
  auto skip_backoff = [&] {
    pqxx::work tx{p.conn};
    tx.exec0("UPDATE workflow_steps SET backoff_until = now() - interval '1 second'");
    tx.commit();
  };
  auto backoff_seconds = [&] {
    return p.scalar<double>(
        "SELECT extract(epoch FROM backoff_until - last_attempted_at) FROM workflow_steps");
  };

  p.claim_and_enqueue();
  auto one = p.take_steps();
  REQUIRE(one.size() == 1);
  p.post(pipeline::failure(one[0]));
  p.run(executor_type::step_result_processor);
  CHECK(p.step_states()["s"] == "error");
  CHECK(p.scalar<int>("SELECT attempts FROM workflow_steps") == 1);
  CHECK(backoff_seconds() == doctest::Approx(1.0).epsilon(0.01)); // base_ms, no jitter
  CHECK(p.scalar<std::string>("SELECT results->'error'->>'message' FROM workflow_steps") == "boom");
  p.claim_and_enqueue();
  CHECK(p.take_steps().empty()); // still backing off

  skip_backoff();
  p.claim_and_enqueue();
  auto two = p.take_steps();
  REQUIRE(two.size() == 1);
  CHECK(two[0].attempt == 2);
  auto retry_after = pipeline::failure(two[0]);
  retry_after.retry_after_seconds = 120;
  p.post(retry_after);
  p.run(executor_type::step_result_processor);
  CHECK(p.scalar<int>("SELECT attempts FROM workflow_steps") == 2);
  CHECK(backoff_seconds() == doctest::Approx(120.0).epsilon(0.01));

  skip_backoff();
  p.claim_and_enqueue();
  auto three = p.take_steps();
  REQUIRE(three.size() == 1);
  p.post(pipeline::failure(three[0]));
  p.run(executor_type::step_result_processor);
  CHECK(p.scalar<int>("SELECT attempts FROM workflow_steps") == 3);
  CHECK(p.scalar<bool>("SELECT backoff_until IS NULL FROM workflow_steps"));
  CHECK(p.task_state() == "error"); // finalized with the result
  CHECK(p.run(executor_type::task_finalizer).items == 0);
}

TEST_CASE("a non-retryable failure fails the step for good at the first attempt") {
  pipeline p;
  p.register_toml(single_step_toml);
  create_task(p, "single");
  p.claim_and_enqueue();
  auto one = p.take_steps();
  REQUIRE(one.size() == 1);
  p.post(pipeline::failure(one[0], false));
  p.run(executor_type::step_result_processor);
  CHECK(p.scalar<bool>("SELECT NOT retryable FROM workflow_steps"));
  CHECK(p.task_state() == "error"); // finalized with the result
  CHECK(p.scalar<std::string>("SELECT from_state || ' ' || (metadata->>'reason')"
                              " FROM task_transitions WHERE most_recent")
        == "in_progress blocked_by_failures");
  CHECK_FALSE(p.scalar<bool>("SELECT complete FROM tasks"));
  p.claim_and_enqueue();
  CHECK(p.take_steps().empty());
}

TEST_CASE("a duplicate step result changes nothing and is deleted") {
  pipeline p;
  auto first = diamond_first_step(p);
  auto result = pipeline::success(first[0], {{"v", 1}});
  p.post(result);
  p.run(executor_type::step_result_processor);
  auto before = snapshot(p);

  auto again = result;
  again.results = {{"v", 2}};
  p.post(again);
  actors::step_result_processor proc{p.cfg, p.node};
  CHECK(proc.process_batch(p.conn, 10).items == 1);
  CHECK(proc.duplicates() == 1);
  CHECK(proc.applied() == 0);
  CHECK(snapshot(p) == before);
  CHECK(p.scalar<int>("SELECT count(*) FROM tasker_mq.q_orchestration_step_results") == 0);
  CHECK(p.scalar<int>("SELECT count(*) FROM tasker_mq.a_orchestration_step_results") == 0);
}

TEST_CASE("an unparsable or unknown step result is archived with its reason") {
  pipeline p;
  p.post_json({{"task_uuid", "nope"}});
  p.post_json({{"task_uuid", "00000000-0000-4000-8000-000000000001"},
               {"step_uuid", "00000000-0000-4000-8000-000000000002"},
               {"status", "success"},
               {"results", nullptr},
               {"execution_time_ms", 1}});
  actors::step_result_processor proc{p.cfg, p.node};
  CHECK(proc.process_batch(p.conn, 10).items == 2);
  CHECK(proc.archived() == 2);
  pqxx::work tx{p.conn};
  auto archived = messaging::queue_client::list_archived(tx, p.cfg.queues.names.step_results, 10);
  REQUIRE(archived.size() == 2);
  std::set<std::string> reasons;
  for (const auto& a : archived)
    reasons.insert(a.reason.substr(0, a.reason.find(':') + 1) +
                   (a.reason.find("unknown step") != std::string::npos ? "unknown" : "field"));
  CHECK(reasons.count("step_result:unknown") == 1);
  CHECK(reasons.count("step_result.task_uuid:field") == 1);
}

TEST_CASE("a step stranded past its timeout is rescued to pending and enqueued again") {
  pipeline p;
  auto lost = diamond_first_step(p); // the worker takes the message and dies
  auto age = [&] {
    pqxx::work tx{p.conn};
    tx.exec0("UPDATE workflow_steps SET updated_at = now() - interval '1 hour'"
             " WHERE current_state IN ('enqueued', 'in_progress')");
    tx.commit();
  };

  actors::task_claimer fresh{p.cfg, p.node};
  CHECK(fresh.process_batch(p.conn, 10).items == 0); // nothing is stale yet
  age();
  actors::task_claimer claimer{p.cfg, p.node};
  claimer.process_batch(p.conn, 10);
  CHECK(claimer.rescued() == 1);
  CHECK(p.step_states()["a"] == "pending");
  CHECK(p.scalar<std::string>("SELECT metadata->>'event' FROM workflow_step_transitions"
                              " WHERE most_recent AND to_state = 'pending'"
                              " AND from_state = 'enqueued'") == "rescued");
  p.run(executor_type::step_enqueuer);
  auto again = p.take_steps();
  REQUIRE(names(again) == std::vector<std::string>{"a"});
  CHECK(again[0].attempt == 1); // the lost message never started an attempt

  // A worker that started the attempt and died: attempt 1 counts, the
  // re-enqueued message is attempt 2, and a late result for attempt 1 is stale.
  {
    pqxx::work tx{p.conn};
    resources::transition_steps(tx, {again[0].step_uuid}, resources::step_state::in_progress);
    tx.commit();
  }
  age();
  actors::task_claimer later{p.cfg, p.node};
  later.process_batch(p.conn, 10);
  CHECK(later.rescued() == 1);
  CHECK(later.attempts_given_back() == 0);
  p.run(executor_type::step_enqueuer);
  auto retry = p.take_steps();
  REQUIRE(retry.size() == 1);
  CHECK(retry[0].attempt == 2);
  auto before = snapshot(p);
  p.post(pipeline::success(again[0], {{"late", true}}));
  actors::step_result_processor proc{p.cfg, p.node};
  proc.process_batch(p.conn, 10);
  CHECK(proc.duplicates() == 1);
  CHECK(snapshot(p) == before);
  p.post(pipeline::success(retry[0], {{"late", false}}));
  proc.process_batch(p.conn, 10);
  CHECK(proc.applied() == 1);
  CHECK(p.step_states()["a"] == "complete");
}

TEST_CASE("a step in progress across a restart of the database server is rescued with its "
          "attempt given back, and runs again under the same attempt") {
  pipeline p;
  auto taken = diamond_first_step(p);
  {
    // Started, then the server restarted before its result came.
    pqxx::work tx{p.conn};
    resources::transition_steps(tx, {taken[0].step_uuid}, resources::step_state::in_progress);
    tx.exec0("UPDATE workflow_steps SET updated_at = now() - interval '1 hour',"
             " last_attempted_at = pg_postmaster_start_time() - interval '1 second'"
             " WHERE current_state = 'in_progress'");
    tx.commit();
  }
  actors::task_claimer claimer{p.cfg, p.node};
  claimer.process_batch(p.conn, 10);
  CHECK(claimer.rescued() == 1);
  CHECK(claimer.attempts_given_back() == 1);
  CHECK(p.step_states()["a"] == "pending");
  p.run(executor_type::step_enqueuer);
  auto again = p.take_steps();
  REQUIRE(again.size() == 1);
  CHECK(again[0].step_uuid == taken[0].step_uuid);
  CHECK(again[0].attempt == taken[0].attempt);
}

TEST_CASE("two enqueuers on two connections never send the same step twice") {
  pipeline p;
  p.register_toml(diamond_toml());
  const int tasks = 24;
  for (int i = 0; i < tasks; ++i)
    p.send_request(pipeline::request("diamond", {{"i", i}}));
  create_all(p);
  REQUIRE(p.scalar<int>("SELECT count(*) FROM tasks") == tasks);
  REQUIRE(p.run(executor_type::task_claimer, 100).items == tasks);

  std::atomic<int> sent{0};
  auto enqueue_all = [&] {
    auto conn = p.db.connect();
    actors::step_enqueuer enqueuer{p.cfg, p.node};
    // Keep going until no claimed task is left; a batch that finds every
    // remaining task locked by the other enqueuer returns 0 and retries.
    for (int idle = 0; idle < 200;) {
      auto out = enqueuer.process_batch(conn, 3);
      sent += static_cast<int>(out.items);
      if (out.items == 0) {
        pqxx::work tx{conn};
        auto left =
            tx.exec1("SELECT count(*) FROM tasks WHERE claimed_by IS NOT NULL")[0].as<int>();
        tx.commit();
        if (left == 0)
          break;
        ++idle;
        std::this_thread::sleep_for(std::chrono::milliseconds{5});
      }
    }
  };
  std::thread t1{enqueue_all};
  std::thread t2{enqueue_all};
  t1.join();
  t2.join();

  auto steps = p.take_steps();
  std::set<std::string> distinct;
  for (const auto& s : steps)
    distinct.insert(s.step_uuid);
  CHECK(sent.load() == tasks);
  CHECK(steps.size() == static_cast<std::size_t>(tasks));
  CHECK(distinct.size() == static_cast<std::size_t>(tasks));
  CHECK(p.scalar<int>("SELECT count(*) FROM workflow_step_transitions"
                      " WHERE to_state = 'enqueued'") == tasks);
}


TEST_CASE("a result batch that advances its own tasks wakes no claimer") {
  pipeline p;
  auto first = diamond_first_step(p);
  ready_listener listener{p.db.url()};
  p.post(pipeline::success(first[0], {{"from", "a"}}));
  CHECK(p.run(executor_type::step_result_processor).items == 1);
  CHECK(names(p.take_steps()) == std::vector<std::string>{"b", "c"});
  CHECK(listener.received() == 0);
}

TEST_CASE("a result for a task another node holds is left to that node's claim path") {
  pipeline p;
  auto first = diamond_first_step(p);
  {
    pqxx::work tx{p.conn};
    tx.exec0("UPDATE tasks SET claimed_by = 'node-b', claimed_at = now()");
    tx.commit();
  }
  ready_listener listener{p.db.url()};
  p.post(pipeline::success(first[0], {{"from", "a"}}));
  CHECK(p.run(executor_type::step_result_processor).items == 1);
  CHECK(listener.received() == 1); // the claim path is woken for what was left
  auto states = p.step_states();
  CHECK(states["a"] == "complete");
  CHECK(states["b"] == "pending"); // node-b's enqueuer sends them
  CHECK(p.scalar<bool>("SELECT needs_attention FROM tasks"));

  // node-b's enqueuer (claims are per node) sends b and c and releases the claim.
  actors::step_enqueuer other{p.cfg, "node-b"};
  CHECK(other.process_batch(p.conn, 10).items == 2);
  CHECK(names(p.take_steps()) == std::vector<std::string>{"b", "c"});
  CHECK(p.scalar<bool>("SELECT claimed_by IS NULL FROM tasks"));
  CHECK_FALSE(p.scalar<bool>("SELECT needs_attention FROM tasks"));
}

TEST_CASE("claims take the highest effective priority first and skip tasks in flight") {
  pipeline p;
  p.register_toml(single_step_toml);
  for (int i = 0; i < 6; ++i)
    p.send_request(pipeline::request("single", {{"i", i}}));
  create_all(p);
  {
    // i = 4 urgent; i = 5 low priority but waiting for an hour (aging 300 s
    // in the test configuration makes that +12); the others equal.
    pqxx::work tx{p.conn};
    tx.exec0("UPDATE tasks SET priority = 5 WHERE context->>'i' = '4'");
    tx.exec0("UPDATE tasks SET priority = -1, created_at = now() - interval '1 hour'"
             " WHERE context->>'i' = '5'");
    tx.commit();
  }
  actors::task_claimer claimer{p.cfg, p.node};
  CHECK(claimer.process_batch(p.conn, 2).items == 2);
  CHECK(p.scalar<std::string>("SELECT string_agg(context->>'i', ',' ORDER BY context->>'i')"
                              " FROM tasks WHERE claimed_by IS NOT NULL") == "4,5");
  p.run(executor_type::step_enqueuer);
  CHECK(p.scalar<int>("SELECT count(*) FROM tasks WHERE needs_attention") == 4);
  // the two in flight are not candidates any more; the other four are
  CHECK(claimer.process_batch(p.conn, 10).items == 4);
}

TEST_CASE("a step whose namespace queue is missing is held back and the rest of the batch "
          "goes ahead") {
  pipeline p;
  p.register_toml(diamond_toml());
  p.register_toml("namespace = \"ghost\"\nname = \"lonely\"\nversion = \"1.0.0\"\n"
                  "[[steps]]\nname = \"g\"\nhandler = \"noop\"\n");
  p.send_request(pipeline::request("diamond", {{"i", 1}}));
  auto ghost = pipeline::request("lonely", {{"i", 2}});
  ghost["namespace"] = "ghost";
  ghost["request_id"] = "00000000-0000-4000-8000-000000000002";
  p.send_request(ghost);
  REQUIRE(create_all(p) == 2);
  REQUIRE(p.run(executor_type::task_claimer).items == 2);

  // One enqueuer batch holds both tasks; ghost_queue does not exist.
  auto out = p.run(executor_type::step_enqueuer);
  CHECK_FALSE(out.error);
  auto states = p.step_states();
  CHECK(states["a"] == "enqueued");
  CHECK(states["g"] == "pending");
  CHECK(names(p.take_steps()) == std::vector<std::string>{"a"});
  CHECK(p.scalar<bool>("SELECT backoff_until > now() + interval '20 seconds'"
                       " FROM workflow_steps WHERE name = 'g'"));
  // Held back: not claimable, not finalizable, nothing lost.
  CHECK(p.run(executor_type::task_claimer).items == 0);
  CHECK(p.run(executor_type::task_finalizer).items == 0);
  CHECK(p.scalar<std::string>("SELECT t.current_state FROM tasks t JOIN workflow_steps s"
                              " USING (task_uuid) WHERE s.name = 'g'") == "in_progress");

  // Once the queue exists and the delay has passed, the step goes out.
  {
    pqxx::work tx{p.conn};
    messaging::queue_client::create_queue(tx, "ghost_queue");
    tx.exec("UPDATE workflow_steps SET backoff_until = now() - interval '1 second'"
            " WHERE name = 'g'");
    tx.commit();
  }
  p.claim_and_enqueue();
  CHECK(p.step_states()["g"] == "enqueued");
  CHECK(p.scalar<int>("SELECT count(*) FROM tasker_mq.q_ghost_queue") == 1);
}
