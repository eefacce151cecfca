// A result post lost in a crash: a worker's commits do not wait for the WAL
// flush, so a step's claim can survive a crash (flushed by a later commit)
// while the result posted after it is lost. The step then stays in_progress
// with no result coming; the rescue sweep must give its attempt back, so a
// step on its last attempt whose handler succeeded runs again instead of
// failing.
#include "tests/fault/process/fault_support.hpp"
#include "tests/integration/harness.hpp"

#include "actors/handlers/handler_registry.hpp"
#include "actors/work_doorbell.hpp"
#include "actors/worker_loop.hpp"
#include "tools/common/noop_templates.hpp"

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include <memory>
#include <string>

using namespace tasker;
using namespace tasker::testing;
using namespace std::chrono_literals;

TEST_CASE("a result post lost in a crash after its step's claim was flushed gives the attempt "
          "back, and the step on its last attempt runs again") {
  dedicated_server server;
  server.quiet_background_flushes();
  cluster c;
  // One attempt only: counted as a failure, the rescue would fail the task.
  c.register_template(tools::in_namespace("fault", R"(
name = "last"
version = "1.0.0"
[[steps]]
name = "only"
handler = "noop"
retry_limit = 1
timeout_seconds = 5
)"));
  c.submit("fault", "last", 1);
  const auto url = c.db().url();
  // The request batch, as a node runs it: the task and its step message.
  REQUIRE(run_request_batch(url, "redo-node") == 1);
  REQUIRE(c.scalar("SELECT count(*) FROM tasker_mq.q_fault_queue") == 1);

  // A worker, in this process, whose handler records its run in a table of
  // its own, a commit that waits for the flush: that flushes the claim
  // before it, and nothing flushes the post.
  {
    pqxx::connection conn{url};
    pqxx::work tx{conn};
    tx.exec0("CREATE TABLE handler_runs (at timestamptz NOT NULL)");
    tx.commit();
  }
  auto handlers = std::make_shared<actors::handler_registry>();
  int runs = 0;
  handlers->register_handler("noop", [&](const messaging::step_message&) {
    ++runs;
    pqxx::connection side{url};
    pqxx::work tx{side};
    tx.exec0("INSERT INTO handler_runs VALUES (now())");
    tx.commit();
    return actors::handler_result::ok();
  });
  actors::worker_options opts;
  opts.database_url = url;
  opts.namespace_name = "fault";
  auto counters = std::make_shared<actors::worker_counters>();
  auto doorbell = std::make_shared<actors::work_doorbell>(url, "fault_queue", 1);
  {
    dedicated_server::frozen_wal_writer frozen{server};
    actors::step_worker worker{opts, handlers, "redo-worker", counters, doorbell};
    REQUIRE(worker.run_batch() == 1);
    CHECK(runs == 1);
    // Posted and visible, as the node would read it.
    CHECK(c.scalar("SELECT count(*) FROM tasker_mq.q_orchestration_step_results") == 1);
    server.crash();
  }
  {
    // The claim survived, the post did not.
    INFO(server.server_log());
    INFO(progress_summary(url));
    REQUIRE(c.scalar("SELECT count(*) FROM handler_runs") == 1);
    CHECK(c.scalar("SELECT count(*) FROM tasker_mq.q_orchestration_step_results") == 0);
    CHECK(c.scalar("SELECT count(*) FROM workflow_steps WHERE current_state = 'in_progress'"
                   " AND attempts = 1")
          == 1);
    CHECK(c.scalar("SELECT count(*) FROM tasker_mq.q_fault_queue") == 0);
  }

  // The node's sweep rescues the step once its timeout has passed, giving
  // its attempt back, and a worker runs it to completion.
  c.start_node("redo-node");
  c.start_worker("fault");
  auto done = c.wait_for(tasks_in("complete"), 1, 120s);
  INFO(c.logs());
  INFO(progress_summary(url));
  REQUIRE(done == 1);
  CHECK(c.scalar("SELECT count(*) FROM workflow_step_transitions WHERE to_state = 'pending'"
                 " AND metadata->>'event' = 'rescued'"
                 " AND metadata->>'attempt_given_back' = 'true'")
        == 1);
  CHECK(c.scalar("SELECT count(*) FROM workflow_step_transitions WHERE to_state = 'in_progress'")
        == 2);
  CHECK(c.scalar("SELECT attempts FROM workflow_steps") == 1);
}
