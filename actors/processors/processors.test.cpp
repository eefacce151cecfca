#include "actors/processors/processor_test_support.hpp"

#include <tuple>

using namespace tasker;
using namespace tasker::actors::test;
using config::executor_type;
using messaging::queue_client;

namespace {

// Registers the diamond template, sends `tasks` requests for it, creates,
// claims and enqueues them, and takes the step messages sent (each task's a).
std::vector<messaging::step_message> diamond_first_steps(pipeline& p, int tasks = 1) {
  p.register_toml(diamond_toml());
  for (int k = 1; k <= tasks; ++k)
    p.send_request(pipeline::request("diamond", {{"k", k}}));
  p.run(executor_type::task_request_processor);
  p.claim_and_enqueue();
  return p.take_steps();
}

// Archived reasons of the request queue, by message id.
std::map<std::int64_t, std::string> archived_reasons(pipeline& p) {
  pqxx::work tx{p.conn};
  std::map<std::int64_t, std::string> out;
  for (const auto& a : queue_client::list_archived(tx, p.cfg.queues.names.task_requests, 100))
    out[a.msg_id] = a.reason;
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("a valid task request becomes a task and its message is deleted") {
  pipeline p;
  p.register_toml(diamond_toml());
  p.send_request(pipeline::request("diamond", {{"order", 1}}));

  auto out = p.run(executor_type::task_request_processor);
  CHECK(out.items == 1);
  CHECK(out.did_work);
  CHECK(p.scalar<int>("SELECT count(*) FROM tasks") == 1);
  CHECK(p.scalar<int>("SELECT count(*) FROM workflow_steps") == 4);
  CHECK(p.scalar<std::string>("SELECT context->>'order' FROM tasks") == "1");
  CHECK(p.scalar<int>("SELECT count(*) FROM tasker_mq.q_orchestration_task_requests") == 0);
  CHECK(archived_reasons(p).empty());

  // an idle poll does nothing
  auto idle = p.run(executor_type::task_request_processor);
  CHECK(idle.items == 0);
  CHECK_FALSE(idle.did_work);
}

TEST_CASE("a mixed batch archives each bad request with its reason and creates every good one") {
  pipeline p;
  p.register_toml(diamond_toml());
  p.register_toml(diamond_toml("other"));
  std::int64_t not_json, wrong_type, bad_namespace, bad_template;
  {
    pqxx::work tx{p.conn};
    // A body PostgreSQL accepts but JSON parsers cannot represent.
    not_json = tx.exec1("SELECT tasker_mq.send('orchestration_task_requests',"
                        " '{\"n\": 1e400}'::jsonb)")[0]
                   .as<std::int64_t>();
    tx.commit();
  }
  auto wrong = pipeline::request("diamond", {{"k", 2}});
  wrong["priority"] = "high";
  wrong_type = p.send_request(wrong);
  auto ns = pipeline::request("diamond", {{"k", 3}});
  ns["namespace"] = "nowhere";
  bad_namespace = p.send_request(ns);
  bad_template = p.send_request(pipeline::request("missing", {{"k", 4}}));
  p.send_request(pipeline::request("diamond", {{"k", 5}}));
  p.send_request(pipeline::request("other", {{"k", 6}}));
  p.send_request(pipeline::request("diamond", {{"k", 5}})); // duplicate of the first good one

  auto out = p.run(executor_type::task_request_processor);
  CHECK(out.items == 7);
  CHECK(p.scalar<int>("SELECT count(*) FROM tasks") == 2);
  CHECK(p.scalar<int>("SELECT count(*) FROM tasker_mq.q_orchestration_task_requests") == 0);

  auto reasons = archived_reasons(p);
  REQUIRE(reasons.size() == 4);
  CHECK(contains(reasons[not_json], "JSON"));
  CHECK(contains(reasons[wrong_type], "task_request.priority"));
  CHECK(contains(reasons[bad_namespace], "unknown namespace \"nowhere\""));
  CHECK(contains(reasons[bad_template], "unknown task template shop/missing@1.0.0"));
}

TEST_CASE("a batch with a damaged template archives only its requests and creates the rest") {
  pipeline p;
  p.register_toml(diamond_toml());
  p.register_toml(diamond_toml("damaged"));
  {
    pqxx::work tx{p.conn};
    tx.exec0("UPDATE named_steps SET depends_on = '{ghost}' WHERE name = 'd' AND named_task_uuid ="
             " (SELECT named_task_uuid FROM named_tasks WHERE name = 'damaged')");
    tx.commit();
  }
  p.send_request(pipeline::request("diamond", {{"k", 1}}));
  auto damaged = p.send_request(pipeline::request("damaged", {{"k", 2}}));
  auto unknown = p.send_request(pipeline::request("missing", {{"k", 3}}));
  p.send_request(pipeline::request("diamond", {{"k", 4}}));

  auto out = p.run(executor_type::task_request_processor);
  CHECK(out.items == 4);
  CHECK(p.scalar<int>("SELECT count(*) FROM tasks") == 2);
  CHECK(p.scalar<int>("SELECT count(*) FROM workflow_steps") == 8);
  CHECK(p.scalar<int>("SELECT count(*) FROM tasker_mq.q_orchestration_task_requests") == 0);
  auto reasons = archived_reasons(p);
  REQUIRE(reasons.size() == 2);
  CHECK(contains(reasons[damaged], "shop/damaged@1.0.0 is corrupt"));
  CHECK(contains(reasons[damaged], "ghost"));
  CHECK(contains(reasons[unknown], "unknown task template shop/missing@1.0.0"));
  // The batch was examined in a second transaction, which started the tasks
  // it created and sent their first steps, as a batch the store accepts.
  CHECK(p.scalar<int>("SELECT count(*) FROM tasks WHERE current_state = 'in_progress'") == 2);
  CHECK(p.take_steps().size() == 2);
}

TEST_CASE("applying results classifies unknown steps, repeats in a batch and stale attempts") {
  pipeline p;
  p.register_toml(diamond_toml());
  p.send_request(pipeline::request("diamond", {}));
  p.run(executor_type::task_request_processor);
  p.claim_and_enqueue();
  auto steps = p.take_steps();
  REQUIRE(steps.size() == 1);

  auto ok = pipeline::success(steps[0], {{"v", 1}}).to_json();
  auto stale = ok;
  stale["attempt"] = 7;
  auto unknown = ok;
  unknown["step_uuid"] = "00000000-0000-4000-8000-0000000000ff";
  pqxx::work tx{p.conn};
  auto applied = resources::apply_results_and_dispatch(
                   tx, nlohmann::json::array({stale, ok, ok, unknown}), p.node, "_queue", 30)
                   .results;
  REQUIRE(applied.size() == 4);
  CHECK(applied[0].outcome == resources::result_outcome::stale);
  CHECK(contains(applied[0].detail, "attempt 7"));
  // the first applicable result wins; a repeat in the same batch changes nothing
  CHECK(applied[1].outcome == resources::result_outcome::completed);
  CHECK(applied[2].outcome == resources::result_outcome::duplicate);
  CHECK(applied[3].outcome == resources::result_outcome::unknown_step);
  CHECK(contains(applied[3].detail, "0000000000ff"));
}

TEST_CASE("result and request batches commit without waiting for the WAL flush, a creation "
          "without its requests' messages waits for it") {
  pipeline p;
  p.register_toml(diamond_toml());
  const auto msg_id = p.send_request(pipeline::request("diamond", {}));
  auto flush_setting = [](pqxx::work& tx) {
    return tx.exec1("SHOW synchronous_commit")[0].as<std::string>();
  };
  {
    // Requests that did not come from a queue get fresh uuids, which clients
    // can read once committed: the creation is flushed before it is visible.
    pqxx::work tx{p.conn};
    auto made = resources::create_start_and_dispatch(
        tx, nlohmann::json::array({pipeline::request("diamond", {{"i", 1}})}), p.node, false,
        "_queue", 30);
    REQUIRE(made.created.size() == 1);
    CHECK(flush_setting(tx) == "on");
  }
  {
    // Requests carrying their messages create the same uuids when redone:
    // that commit need not wait.
    pqxx::work tx{p.conn};
    auto request = pipeline::request("diamond", {{"i", 1}});
    request["message_key"] = "requests/7";
    request["enqueued_at"] = "2026-11-28 02:30:00+00";
    auto made = resources::create_start_and_dispatch(tx, nlohmann::json::array({request}),
                                                     p.node, false, "_queue", 30);
    REQUIRE(made.created.size() == 1);
    CHECK(flush_setting(tx) == "off");
  }
  // The request processor's batch passes each request's message: the task's
  // uuid is the one derived from the queue row.
  const auto& queue = p.cfg.queues.names.task_requests;
  const auto expected = p.scalar<std::string>(
      "SELECT tasker_task_uuid_of('" + queue + "/" + std::to_string(msg_id)
      + "', enqueued_at)::text FROM tasker_mq.q_" + queue);
  p.run(executor_type::task_request_processor);
  CHECK(p.scalar<std::string>("SELECT task_uuid::text FROM tasks") == expected);
  {
    pqxx::work tx{p.conn};
    CHECK(flush_setting(tx) == "on"); // for that transaction only
  }
  p.claim_and_enqueue();
  auto steps = p.take_steps();
  REQUIRE(steps.size() == 1);
  {
    pqxx::work tx{p.conn};
    CHECK(flush_setting(tx) == "on");
    auto applied = resources::apply_results_and_dispatch(
        tx, nlohmann::json::array({pipeline::success(steps[0], {{"v", 1}}).to_json()}), p.node,
        "_queue", 30);
    REQUIRE(applied.results.size() == 1);
    CHECK(applied.results[0].outcome == resources::result_outcome::completed);
    CHECK(flush_setting(tx) == "off");
    tx.commit();
  }
  // For that transaction only.
  pqxx::work tx{p.conn};
  CHECK(flush_setting(tx) == "on");
  CHECK(tx.exec1("SELECT count(*) FROM workflow_steps WHERE current_state = 'complete'")[0]
          .as<int>() == 1);
}

TEST_CASE("applying results locks the touched tasks that this node may advance and sends their "
          "ready steps") {
  pipeline p;
  auto steps = diamond_first_steps(p, 2);
  REQUIRE(steps.size() == 2);
  auto first = pipeline::success(steps[0], {{"v", 1}}).to_json();
  auto second = pipeline::success(steps[1], {{"v", 2}}).to_json();
  auto stale = first;
  stale["attempt"] = 7;
  // The second task is claimed by a live node elsewhere: it is not locked.
  {
    pqxx::work tx{p.conn};
    tx.exec_params0("UPDATE tasks SET claimed_by = 'elsewhere', claimed_at = now()"
                    " WHERE task_uuid = $1",
                    steps[1].task_uuid);
    tx.commit();
  }
  pqxx::work tx{p.conn};
  auto upper = second;
  upper["task_uuid"] = [&] {
    auto s = steps[1].task_uuid;
    for (auto& c : s)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  }();
  auto out = resources::apply_results_and_dispatch(
      tx, nlohmann::json::array({stale, first, upper}), p.node, "_queue", 30);
  REQUIRE(out.results.size() == 3);
  CHECK(out.results[0].outcome == resources::result_outcome::stale);
  CHECK(out.results[1].outcome == resources::result_outcome::completed);
  CHECK(out.results[2].outcome == resources::result_outcome::completed);
  CHECK(out.touched == 2);
  CHECK(out.locked == 1);
  // The locked task's ready steps, b and c, went out in the template's order
  // with a's results as their parents'; nothing of the task claimed elsewhere.
  CHECK(out.dispatch.sent == 2);
  CHECK(out.dispatch.held.empty());
  CHECK(out.dispatch.finalized.empty());
  auto sent = tx.exec("SELECT message FROM tasker_mq.q_shop_queue ORDER BY msg_id");
  REQUIRE(sent.size() == 2);
  std::vector<std::string> names;
  for (const auto& row : sent) {
    auto m = messaging::parse_step_message(nlohmann::json::parse(row[0].c_str()));
    CHECK(m.task_uuid == steps[0].task_uuid);
    CHECK(m.dependency_results == nlohmann::json{{"a", {{"v", 1}}}});
    CHECK(m.attempt == 1);
    names.push_back(m.step_name);
  }
  CHECK(names == std::vector<std::string>{"b", "c"});
  CHECK(tx.exec_params1("SELECT count(*) FROM workflow_steps WHERE task_uuid = $1"
                        " AND current_state = 'enqueued'",
                        steps[0].task_uuid)[0]
          .as<int>() == 2);
  CHECK(tx.exec_params1("SELECT count(*) FROM workflow_steps WHERE task_uuid = $1"
                        " AND current_state = 'enqueued'",
                        steps[1].task_uuid)[0]
          .as<int>() == 0);

  // Nothing applied, nothing locked, nothing sent.
  auto again =
    resources::apply_results_and_dispatch(tx, nlohmann::json::array({stale}), p.node, "_queue", 30);
  REQUIRE(again.results.size() == 1);
  CHECK(again.touched == 0);
  CHECK(again.locked == 0);
  CHECK(again.dispatch.sent == 0);
}

TEST_CASE("a result batch that sends the next steps leaves its task row as it was, and a task "
          "that finishes is written once, by its completion") {
  pipeline p;
  p.register_toml(diamond_toml());
  p.send_request(pipeline::request("diamond", {{"k", 1}}));
  p.run(executor_type::task_request_processor);
  p.claim_and_enqueue();
  auto row = [&](const std::string& task) {
    pqxx::work tx{p.conn};
    auto r = tx.exec_params1("SELECT xmin::text, needs_attention, current_state FROM tasks"
                             " WHERE task_uuid = $1",
                             task);
    return std::tuple{r[0].as<std::string>(), r[1].as<bool>(), r[2].as<std::string>()};
  };
  auto a = p.take_steps();
  REQUIRE(a.size() == 1);
  const auto task = a[0].task_uuid;
  auto before = row(task);
  CHECK_FALSE(std::get<1>(before)); // in flight
  p.post(pipeline::success(a[0], {{"v", 1}}));
  p.run(executor_type::step_result_processor);
  auto bc = p.take_steps();
  REQUIRE(bc.size() == 2); // b and c sent
  CHECK(row(task) == before); // not one new version of the task row

  p.post(pipeline::success(bc[0], {{"v", 2}}));
  p.post(pipeline::success(bc[1], {{"v", 3}}));
  p.run(executor_type::step_result_processor);
  auto d = p.take_steps();
  REQUIRE(d.size() == 1);
  CHECK(row(task) == before);

  p.post(pipeline::success(d[0], {{"v", 4}}));
  p.run(executor_type::step_result_processor);
  auto [xmin, attention, state] = row(task);
  CHECK(state == "complete");
  // Only the completion wrote the row: the flag was never raised.
  CHECK_FALSE(attention);
  pqxx::work tx{p.conn};
  CHECK(tx.exec_params1("SELECT count(*) FROM tasks WHERE task_uuid = $1 AND xmin = $2::xid",
                        task, xmin)[0].as<int>() == 1);
  CHECK(tx.exec_params1("SELECT count(*) FROM task_transitions WHERE task_uuid = $1", task)[0]
          .as<int>() == 3); // pending, in_progress, complete
}

TEST_CASE("a success completes its step with the results, and the history row carries the "
          "worker's report") {
  pipeline p;
  p.register_toml(diamond_toml());
  p.send_request(pipeline::request("diamond", {{"k", 2}}));
  p.run(executor_type::task_request_processor);
  auto a = p.take_steps();
  REQUIRE(a.size() == 1);
  p.post(pipeline::success(a[0], {{"v", 1}}));
  p.run(executor_type::step_result_processor);
  pqxx::work tx{p.conn};
  auto r = tx.exec_params1(
    "SELECT current_state, processed, processed_at IS NOT NULL, in_process, results::text,"
    " backoff_until IS NULL, retryable, attempts FROM workflow_steps WHERE workflow_step_uuid = $1",
    a[0].step_uuid);
  CHECK(r[0].as<std::string>() == "complete");
  CHECK(r[1].as<bool>());
  CHECK(r[2].as<bool>());
  CHECK_FALSE(r[3].as<bool>());
  CHECK(r[4].as<std::string>() == R"({"v": 1})");
  CHECK(r[5].as<bool>());
  CHECK(r[6].as<bool>());
  CHECK(r[7].as<int>() == 1);
  auto h = tx.exec_params("SELECT from_state, to_state, most_recent, metadata->>'event',"
                          " metadata->>'attempt', metadata ? 'execution_time_ms'"
                          " FROM workflow_step_transitions WHERE workflow_step_uuid = $1"
                          " ORDER BY sort_key DESC LIMIT 2",
                          a[0].step_uuid);
  REQUIRE(h.size() == 2);
  CHECK(h[0][0].as<std::string>() == "in_progress");
  CHECK(h[0][1].as<std::string>() == "complete");
  CHECK(h[0][2].as<bool>());
  CHECK(h[0][3].as<std::string>() == "step_result");
  CHECK(h[0][4].as<std::string>() == "1");
  CHECK(h[0][5].as<bool>());
  CHECK(h[1][1].as<std::string>() == "in_progress");
  CHECK_FALSE(h[1][2].as<bool>());
}

TEST_CASE("a touched task another node has claimed is flagged for attention, as the step "
          "trigger would") {
  pipeline p;
  auto a = diamond_first_steps(p);
  REQUIRE(a.size() == 1);
  pqxx::work tx{p.conn};
  tx.exec_params0("UPDATE tasks SET claimed_by = 'elsewhere', claimed_at = now(),"
                  " needs_attention = false WHERE task_uuid = $1",
                  a[0].task_uuid);
  auto out = resources::apply_results_and_dispatch(
      tx, nlohmann::json::array({pipeline::success(a[0], {{"v", 1}}).to_json()}), p.node,
      "_queue", 30);
  CHECK(out.touched == 1);
  CHECK(out.locked == 0);
  CHECK(out.dispatch.sent == 0);
  CHECK(tx.exec_params1("SELECT needs_attention FROM tasks WHERE task_uuid = $1",
                        a[0].task_uuid)[0].as<bool>());
  // Outside such a batch the trigger flags the task as before.
  tx.exec0("UPDATE tasks SET needs_attention = false");
  tx.exec_params0("UPDATE workflow_steps SET current_state = 'pending' WHERE task_uuid = $1"
                  " AND name = 'b'",
                  a[0].task_uuid);
  CHECK(tx.exec_params1("SELECT needs_attention FROM tasks WHERE task_uuid = $1",
                        a[0].task_uuid)[0].as<bool>());
}

TEST_CASE("the step messages a dispatch sends carry every field of the wire protocol") {
  pipeline p;
  p.register_toml(diamond_toml("diamond", "retry_limit = 4\ntimeout_seconds = 45\n"
                                          "[steps.inputs]\nkey = \"v\"\n"));
  p.send_request(pipeline::request("diamond", {{"k", 1}}));
  CHECK(p.run(executor_type::task_request_processor).items == 1);
  // The messages as stored, by step name, taken from the queue.
  auto take = [&] {
    pqxx::work tx{p.conn};
    std::map<std::string, nlohmann::json> out;
    for (const auto& row : tx.exec("DELETE FROM tasker_mq.q_shop_queue RETURNING message"))
      out[nlohmann::json::parse(row[0].c_str()).at("step_name")] =
        nlohmann::json::parse(row[0].c_str());
    tx.commit();
    return out;
  };
  auto step = [&](const std::string& name) {
    return p.scalar<std::string>("SELECT workflow_step_uuid::text FROM workflow_steps"
                                 " WHERE name = '" + name + "'");
  };
  const auto task = p.scalar<std::string>("SELECT task_uuid::text FROM tasks");
  auto expected = [&](const std::string& name, nlohmann::json parents, nlohmann::json inputs,
                      nlohmann::json context) {
    return nlohmann::json{{"task_uuid", task},
                          {"step_uuid", step(name)},
                          {"step_name", name},
                          {"handler", "noop"},
                          {"namespace", "shop"},
                          {"task_name", "diamond"},
                          {"inputs", std::move(inputs)},
                          {"dependency_results", std::move(parents)},
                          {"attempt", 1},
                          {"retry_limit", 4},
                          {"timeout_seconds", 45},
                          {"context", std::move(context)}};
  };
  // Sent by the request processor, with the task's creation.
  auto first = take();
  REQUIRE(first.size() == 1);
  CHECK(first["a"] == expected("a", nlohmann::json::object(), {{"key", "v"}}, {{"k", 1}}));
  CHECK(messaging::parse_step_message(first["a"]).step_uuid == step("a"));

  // Sent by the result processor. A stored value that is not an object
  // travels as an empty object.
  {
    pqxx::work tx{p.conn};
    tx.exec0("UPDATE workflow_steps SET inputs = '[1]' WHERE name = 'c'");
    tx.commit();
  }
  p.post(pipeline::success(messaging::parse_step_message(first["a"]), {{"from", "a"}}));
  CHECK(p.run(executor_type::step_result_processor).items == 1);
  auto next = take();
  REQUIRE(next.size() == 2);
  const nlohmann::json parents{{"a", {{"from", "a"}}}};
  CHECK(next["b"] == expected("b", parents, {{"key", "v"}}, {{"k", 1}}));
  CHECK(next["c"] == expected("c", parents, nlohmann::json::object(), {{"k", 1}}));
  // The enqueued transition the dispatch wrote: the step row, and its history
  // with the previous row no longer the current one.
  const auto b = step("b");
  pqxx::work tx{p.conn};
  auto h = tx.exec_params("SELECT t.from_state, t.to_state, t.most_recent, t.metadata->>'event',"
                          " t.metadata->>'node_id', s.in_process, s.current_state"
                          " FROM workflow_step_transitions t JOIN workflow_steps s"
                          " USING (workflow_step_uuid) WHERE s.workflow_step_uuid = $1"
                          " ORDER BY t.sort_key",
                          b);
  REQUIRE(h.size() == 2);
  CHECK(h[0][1].as<std::string>() == "pending");
  CHECK_FALSE(h[0][2].as<bool>());
  CHECK(h[1][0].as<std::string>() == "pending");
  CHECK(h[1][1].as<std::string>() == "enqueued");
  CHECK(h[1][2].as<bool>());
  CHECK(h[1][3].as<std::string>() == "enqueued");
  CHECK(h[1][4].as<std::string>() == p.node);
  CHECK(h[1][5].as<bool>());
  CHECK(h[1][6].as<std::string>() == "enqueued");
}

TEST_CASE("a result batch holds back the next steps whose namespace queue is missing and "
          "names them") {
  pipeline p;
  auto steps = diamond_first_steps(p);
  REQUIRE(steps.size() == 1);
  pqxx::work tx{p.conn};
  auto out = resources::apply_results_and_dispatch(
      tx, nlohmann::json::array({pipeline::success(steps[0], {{"v", 1}}).to_json()}), p.node,
      "_nowhere", 30);
  REQUIRE(out.results.size() == 1);
  CHECK(out.results[0].outcome == resources::result_outcome::completed);
  CHECK(out.touched == 1);
  CHECK(out.locked == 1);
  CHECK(out.dispatch.sent == 0);
  REQUIRE(out.dispatch.held.size() == 2);
  for (const auto& h : out.dispatch.held) {
    CHECK(h.queue == "shop_nowhere");
    CHECK(h.task_uuid == steps[0].task_uuid);
  }
  CHECK(tx.exec_params1("SELECT count(*) FROM workflow_steps WHERE task_uuid = $1"
                        " AND current_state = 'pending' AND backoff_until > now() + interval '20 s'"
                        " AND workflow_step_uuid = ANY ($2::uuid[])",
                        steps[0].task_uuid,
                        "{" + out.dispatch.held[0].step_uuid + "," + out.dispatch.held[1].step_uuid +
                          "}")[0]
          .as<int>() == 2);
  CHECK(tx.exec1("SELECT count(*) FROM tasker_mq.q_shop_queue")[0].as<int>() == 0);
}

TEST_CASE("a new task whose namespace queue is missing starts with its root held back and "
          "named, and the rest of the batch goes out") {
  pipeline p;
  p.register_toml(diamond_toml());
  p.register_toml("namespace = \"ghost\"\nname = \"lonely\"\nversion = \"1.0.0\"\n"
                  "[[steps]]\nname = \"g\"\nhandler = \"noop\"\n"
                  "[[steps]]\nname = \"h\"\nhandler = \"noop\"\n"
                  "[[steps]]\nname = \"i\"\nhandler = \"noop\"\ndepends_on = [\"g\"]\n");
  auto ghost = pipeline::request("lonely", {{"i", 2}});
  ghost["namespace"] = "ghost";
  ghost["request_id"] = "00000000-0000-4000-8000-000000000002";
  pqxx::work tx{p.conn};
  auto made = resources::create_start_and_dispatch(
      tx, nlohmann::json::array({pipeline::request("diamond", {{"i", 1}}), ghost}), p.node, true,
      "_queue", 30);
  REQUIRE(made.created.size() == 2);
  CHECK_FALSE(made.created[0].duplicate);
  CHECK_FALSE(made.created[1].duplicate);
  // The shop task's root went out; the ghost task's two roots are held, in
  // the template's order, and its third step waits for its parent.
  CHECK(made.dispatch.sent == 1);
  REQUIRE(made.dispatch.held.size() == 2);
  auto step = [&](const std::string& name) {
    return tx.exec_params1("SELECT workflow_step_uuid::text FROM workflow_steps WHERE name = $1",
                           name)[0]
      .as<std::string>();
  };
  CHECK(made.dispatch.held[0].step_uuid == step("g"));
  CHECK(made.dispatch.held[1].step_uuid == step("h"));
  for (const auto& h : made.dispatch.held) {
    CHECK(h.queue == "ghost_queue");
    CHECK(h.task_uuid == made.created[1].task_uuid);
  }
  CHECK(tx.exec1("SELECT count(*) FROM workflow_steps WHERE name IN ('g', 'h')"
                 " AND current_state = 'pending' AND backoff_until > now() + interval '20 s'")[0]
          .as<int>() == 2);
  CHECK(tx.exec1("SELECT current_state FROM workflow_steps WHERE name = 'a'")[0].as<std::string>()
        == "enqueued");
  CHECK(tx.exec1("SELECT count(*) FROM tasker_mq.q_shop_queue")[0].as<int>() == 1);
  // Both tasks started; the held one is left to the claim path's attention.
  CHECK(tx.exec_params1("SELECT current_state || '/' || needs_attention FROM tasks"
                        " WHERE task_uuid = $1",
                        made.created[1].task_uuid)[0]
          .as<std::string>() == "in_progress/true");
  CHECK(tx.exec_params1("SELECT current_state || '/' || needs_attention FROM tasks"
                        " WHERE task_uuid = $1",
                        made.created[0].task_uuid)[0]
          .as<std::string>() == "in_progress/false");
}

TEST_CASE("a ready step's JSON form is checked field by field") {
  nlohmann::json row{{"task_uuid", "t"}, {"workflow_step_uuid", "s"}, {"namespace_name", "n"},
                     {"step_name", "a"}, {"handler", "noop"}, {"current_state", "error"},
                     {"attempts", 2}, {"retry_limit", 3}, {"timeout_seconds", 30},
                     {"inputs", {{"x", 1}}}, {"task_context", nullptr},
                     {"parent_results", nlohmann::json::object()}};
  auto s = resources::ready_step_from_json(row);
  CHECK(s.state == resources::step_state::error);
  CHECK(s.attempts == 2);
  CHECK(s.queue_exists); // absent: true
  CHECK(s.task_context.is_null());
  row["queue_exists"] = false;
  CHECK_FALSE(resources::ready_step_from_json(row).queue_exists);
  auto missing = row;
  missing.erase("handler");
  CHECK_THROWS_WITH_AS(resources::ready_step_from_json(missing), "ready step: missing field handler",
                       std::invalid_argument);
  auto mistyped = row;
  mistyped["attempts"] = "two";
  CHECK_THROWS_AS(resources::ready_step_from_json(mistyped), std::invalid_argument);
}
