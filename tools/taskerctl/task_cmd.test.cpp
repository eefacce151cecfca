#include "tools/taskerctl/ctl_test_support.hpp"

#include "messaging/queue_client.hpp"
#include "messaging/wire.hpp"
#include "resources/task_store.hpp"

#include <atomic>
#include <chrono>
#include <thread>

using namespace tasker;
using namespace tasker::tools::ctl;
using namespace tasker::tools::ctl::test;
using messaging::queue_client;

namespace {

/// Registers the diamond example; returns nothing, fails the test on error.
void register_diamond(const ctl_context& ctx) {
  std::ostringstream out, err;
  REQUIRE_MESSAGE(template_register(ctx, {example("diamond.toml")}, out, err) == 0, err.str());
}

/// Creates a task of the diamond example in this process; returns its uuid.
std::string direct_task(const ctl_context& ctx, const std::string& context) {
  submit_options o;
  o.ref = "examples/diamond_workflow";
  o.context_json = context;
  o.direct = true;
  std::ostringstream out, err;
  REQUIRE_MESSAGE(task_submit(ctx, o, out, err) == 0, err.str());
  auto id = out.str();
  id.erase(id.find_last_not_of('\n') + 1);
  return id;
}

} // namespace

TEST_CASE_FIXTURE(ctl_fixture, "a direct submit creates a task whose status shows its steps") {
  register_diamond(ctx);
  auto task = direct_task(ctx, R"({"order": 7})");
  CHECK(messaging::is_valid_uuid(task));

  auto status = run([&](auto& o, auto& e) { return task_status(ctx, task, o, e); });
  REQUIRE_MESSAGE(status.code == 0, status.err);
  CHECK(contains(status.out, "examples/diamond_workflow@1.0.0"));
  CHECK(contains(status.out, "has_ready_steps"));
  CHECK(contains(status.out, "start"));
  CHECK(contains(status.out, "0/3"));

  auto doc = run([&](auto& o, auto& e) { return task_status(json(), task, o, e); }).json();
  CHECK(doc["state"] == "pending");
  CHECK(doc["context"]["order"] == 7);
  REQUIRE(doc["steps"].size() == 4);
  CHECK(doc["steps"][0]["name"] == "start");
  CHECK(doc["steps"][0]["state"] == "pending");
}

TEST_CASE_FIXTURE(ctl_fixture,
                  "a queued submit with no node times out and leaves the request queued") {
  register_diamond(ctx);
  submit_options o;
  o.ref = "examples/diamond_workflow";
  o.context_json = R"({"order": 8})";
  o.wait_timeout_seconds = 0.3;
  auto r = run([&](auto& out, auto& e) { return task_submit(ctx, o, out, e); });
  CHECK(r.code == 1);
  CHECK(contains(r.err, "no node processed task request"));
  CHECK(contains(r.err, "tasker-node run"));

  auto conn = db.connect();
  pqxx::work tx{conn};
  auto waiting = queue_client::read(tx, ctx.queues.task_requests, 30, 10);
  REQUIRE(waiting.size() == 1);
  CHECK(waiting[0].message["namespace"] == "examples");
  CHECK(waiting[0].message["task_version"] == "1.0.0");
  CHECK(contains(r.err, waiting[0].message["request_id"].get<std::string>()));
}

TEST_CASE_FIXTURE(ctl_fixture, "a queued submit prints the task a node created from the request") {
  register_diamond(ctx);
  std::atomic<bool> stop{false};
  // Stands in for a node's request processor: queue to tasker_create_tasks.
  std::thread node{[&] {
    auto conn = db.connect();
    while (!stop) {
      pqxx::work tx{conn};
      auto batch = nlohmann::json::array();
      std::vector<std::int64_t> ids;
      try {
        for (auto& m : queue_client::read(tx, ctx.queues.task_requests, 30, 10)) {
          batch.push_back(m.message);
          ids.push_back(m.msg_id);
        }
      } catch (const pqxx::sql_error&) {
        // The request queue is created by the first submit.
      }
      if (!batch.empty()) {
        resources::create_tasks(tx, batch);
        queue_client::remove(tx, ctx.queues.task_requests, ids);
        tx.commit();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }};
  submit_options o;
  o.ref = "examples/diamond_workflow@1.0.0";
  o.context_json = R"({"order": 9})";
  o.wait_timeout_seconds = 10;
  auto r = run([&](auto& out, auto& e) { return task_submit(json(), o, out, e); });
  stop = true;
  node.join();
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto doc = r.json();
  CHECK(doc["status"] == "created");
  CHECK(messaging::is_valid_uuid(doc["task_uuid"].get<std::string>()));
  CHECK(doc["duplicate"] == false);
}

TEST_CASE_FIXTURE(ctl_fixture,
                  "a submit with a context that is not a JSON object is a usage error") {
  register_diamond(ctx);
  submit_options o;
  o.ref = "examples/diamond_workflow";
  o.context_json = "[1, 2]";
  o.direct = true;
  auto r = run([&](auto& out, auto& e) { return task_submit(ctx, o, out, e); });
  CHECK(r.code == 2);
  CHECK(contains(r.err, "--context"));
  o.ref = "examples/unknown";
  o.context_json = "{}";
  auto missing = run([&](auto& out, auto& e) { return task_submit(ctx, o, out, e); });
  CHECK(missing.code == 1);
  CHECK(contains(missing.err, "examples/unknown is not registered"));
}

TEST_CASE_FIXTURE(ctl_fixture, "cancel, retry and resolve move tasks and refuse the wrong states") {
  register_diamond(ctx);
  auto act = [&](task_action a, const std::string& id) {
    return run([&](auto& o, auto& e) { return task_act(ctx, a, id, "test", o, e); });
  };
  auto first = direct_task(ctx, R"({"n": 1})");
  auto cancelled = act(task_action::cancel, first);
  CHECK(cancelled.code == 0);
  CHECK(contains(cancelled.out, "pending -> cancelled (4 steps moved)"));
  auto again = act(task_action::cancel, first);
  CHECK(again.code == 1);
  CHECK(contains(again.err, first + " is cancelled"));

  auto second = direct_task(ctx, R"({"n": 2})");
  auto early = act(task_action::retry, second);
  CHECK(early.code == 1);
  CHECK(contains(early.err, "retry applies only to a task that is error"));
  {
    auto conn = db.connect();
    pqxx::work tx{conn};
    auto steps = std::vector<std::string>{};
    for (const auto& row : tx.exec_params(
             "SELECT workflow_step_uuid FROM tasker_task_steps($1::uuid) LIMIT 1", second))
      steps.push_back(row[0].as<std::string>());
    using resources::step_state;
    for (auto s : {step_state::enqueued, step_state::in_progress, step_state::error})
      resources::transition_steps(tx, steps, s);
    resources::transition_tasks(tx, {second}, resources::task_state::in_progress);
    resources::transition_tasks(tx, {second}, resources::task_state::error);
    tx.commit();
  }
  auto retried = act(task_action::retry, second);
  CHECK(retried.code == 0);
  CHECK(contains(retried.out, "error -> pending (1 step moved)"));
  auto doc = run([&](auto& o, auto& e) { return task_status(json(), second, o, e); }).json();
  CHECK(doc["steps"][0]["attempts"] == 0);
  CHECK(doc["steps"][0]["state"] == "pending");

  auto resolved = act(task_action::resolve, second);
  CHECK(resolved.code == 0);
  CHECK(contains(resolved.out, "pending -> resolved_manually"));
  CHECK(act(task_action::resolve, second).code == 1);
  auto bad = act(task_action::cancel, "not-a-uuid");
  CHECK(bad.code == 2);
  CHECK(contains(bad.err, "task id \"not-a-uuid\""));
}

TEST_CASE_FIXTURE(ctl_fixture, "task list filters by state") {
  register_diamond(ctx);
  auto keep = direct_task(ctx, R"({"n": 1})");
  auto drop = direct_task(ctx, R"({"n": 2})");
  std::ostringstream o, e;
  REQUIRE(task_act(ctx, task_action::cancel, drop, "", o, e) == 0);

  resources::task_filter pending;
  pending.state = "pending";
  auto human = run([&](auto& out, auto& err) { return task_list(ctx, pending, out, err); });
  CHECK(contains(human.out, keep));
  CHECK_FALSE(contains(human.out, drop));
  auto doc = run([&](auto& out, auto& err) {
               return task_list(json(), {"cancelled", "", 10}, out, err);
             }).json();
  REQUIRE(doc.size() == 1);
  CHECK(doc[0]["task_uuid"] == drop);
  auto bad = run([&](auto& out, auto& err) {
    return task_list(ctx, {"sleeping", "", 10}, out, err);
  });
  CHECK(bad.code == 2);
  CHECK(contains(bad.err, "sleeping"));
}
