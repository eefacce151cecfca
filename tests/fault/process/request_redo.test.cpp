// A request batch whose commit is lost in a crash: the request processor's
// transaction commits without waiting for the WAL flush, so its tasks are
// visible before they are durable. Redone after the crash, the request must
// create the task under the same uuids that were seen, and the task must run.
#include "tests/fault/process/fault_support.hpp"
#include "tests/integration/harness.hpp"

#include "tools/common/noop_templates.hpp"

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include <string>
#include <vector>

using namespace tasker;
using namespace tasker::testing;
using namespace std::chrono_literals;

namespace {

// What a client can see of the task: its uuid, its steps' uuids by position,
// and the step messages waiting in its namespace queue.
struct visible_task {
  std::string task_uuid;
  std::vector<std::string> step_uuids;
  std::vector<std::string> step_messages;
};

visible_task look(const std::string& url) {
  pqxx::connection conn{url};
  pqxx::read_transaction tx{conn};
  visible_task out;
  auto task = tx.exec("SELECT task_uuid::text FROM tasks");
  REQUIRE(task.size() == 1);
  out.task_uuid = task[0][0].as<std::string>();
  for (const auto& row : tx.exec("SELECT workflow_step_uuid::text FROM workflow_steps"
                                 " ORDER BY position"))
    out.step_uuids.push_back(row[0].as<std::string>());
  for (const auto& row : tx.exec("SELECT message::text FROM tasker_mq.q_fault_queue"
                                 " ORDER BY msg_id"))
    out.step_messages.push_back(row[0].as<std::string>());
  return out;
}

} // namespace

TEST_CASE("a request batch lost in a crash before its WAL flush creates the same task and step "
          "uuids when redone, and the task runs once") {
  dedicated_server server;
  // Nothing may flush the WAL behind the test's back once the WAL writer is
  // frozen.
  server.quiet_background_flushes();
  cluster c;
  c.register_template(tools::in_namespace("fault", R"(
name = "pair"
version = "1.0.0"
[[steps]]
name = "first"
handler = "noop"
[[steps]]
name = "second"
handler = "noop"
depends_on = ["first"]
)"));
  c.submit("fault", "pair", 1); // the send is flushed: it survives the crash
  const auto url = c.db().url();

  // Nothing flushes the WAL now but a commit that waits for it.
  dedicated_server::frozen_wal_writer frozen{server};
  REQUIRE(run_request_batch(url, "redo-node") == 1);
  // Committed and visible, as `taskerctl task submit --wait` or a worker
  // taking the first step would see it.
  auto seen = look(url);
  CHECK(seen.step_uuids.size() == 2);
  REQUIRE(seen.step_messages.size() == 1);

  server.crash();
  {
    // The creation was lost with the commit, and the request is back.
    INFO(server.server_log());
    CHECK(c.scalar("SELECT count(*) FROM tasks") == 0);
    CHECK(c.scalar("SELECT count(*) FROM tasker_mq.q_orchestration_task_requests") == 1);
  }

  // Redone: the same task, steps and first step message.
  REQUIRE(run_request_batch(url, "redo-node") == 1);
  auto redone = look(url);
  CHECK(redone.task_uuid == seen.task_uuid);
  CHECK(redone.step_uuids == seen.step_uuids);
  CHECK(redone.step_messages == seen.step_messages);

  // And it runs to completion, each step once.
  c.start_node("redo-node");
  c.start_worker("fault");
  auto done = c.wait_for(tasks_in("complete"), 1, 120s);
  INFO(c.logs());
  REQUIRE(done == 1);
  CHECK(c.scalar("SELECT count(*) FROM workflow_step_transitions WHERE to_state = 'complete'")
        == 2);
  CHECK(c.scalar("SELECT count(*) FROM tasks WHERE task_uuid = '" + seen.task_uuid + "'") == 1);
}
