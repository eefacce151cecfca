// What goes wrong in production: cancellation, a worker killed mid-step,
// duplicate results and malformed requests.
#include "messaging/queue_client.hpp"
#include "messaging/wire.hpp"
#include "resources/store_operator.hpp"
#include "tests/integration/harness.hpp"
#include "tools/common/noop_templates.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <thread>

using namespace tasker;
using namespace tasker::testing;
using namespace std::chrono_literals;

namespace {

const char* slow_pair = R"(
namespace = "it"
name = "slow_pair"
version = "1.0.0"
[[steps]]
name = "first"
handler = "sleep"
timeout_seconds = 5
inputs = { ms = 2000 }
[[steps]]
name = "second"
handler = "noop"
depends_on = ["first"]
)";

const std::string single = tools::single_step_template("it");

const char* in_progress_first
  = "SELECT count(*) FROM workflow_steps WHERE name = 'first' AND current_state = 'in_progress'";

} // namespace

TEST_CASE("cancelling a task stops its further steps") {
  cluster c;
  c.register_template(slow_pair);
  c.submit("it", "slow_pair", 1);
  c.start_node("cancel-node", {"--with-worker", "it"});
  REQUIRE(c.wait_for(in_progress_first, 1, 60s) == 1);
  {
    auto conn = c.db().connect();
    pqxx::work tx{conn};
    auto task = tx.exec1("SELECT task_uuid::text FROM tasks")[0].as<std::string>();
    resources::cancel_task(tx, task, nlohmann::json{{"by", "integration test"}});
    tx.commit();
  }
  // Let the running step finish and its result be applied.
  c.wait_for("SELECT count(*) FROM workflow_steps WHERE name = 'first' AND current_state "
             "<> 'in_progress'", 1, 30s);
  std::this_thread::sleep_for(2s);
  INFO(c.logs());
  CHECK(c.scalar(tasks_in("cancelled")) == 1);
  CHECK(c.scalar("SELECT count(*) FROM workflow_step_transitions t JOIN workflow_steps s "
                 "USING (workflow_step_uuid) WHERE s.name = 'second' "
                 "AND t.to_state IN ('enqueued', 'in_progress', 'complete')") == 0);
}

TEST_CASE("a worker killed mid-step loses nothing: the step is retried and the task completes") {
  cluster c;
  c.register_template(slow_pair);
  c.submit("it", "slow_pair", 1);
  c.start_node("orchestrator");
  auto& victim = c.start_worker("it", {"--concurrency", "1", "--visibility-timeout", "3"});
  REQUIRE(c.wait_for(in_progress_first, 1, 60s) == 1);
  victim.signal(SIGKILL);
  REQUIRE(victim.wait(10s) == 128 + SIGKILL);
  c.start_worker("it", {"--concurrency", "1", "--visibility-timeout", "3"});
  auto done = c.wait_for(tasks_in("complete"), 1, 180s);
  INFO(c.logs());
  REQUIRE(done == 1);
  CHECK(c.scalar("SELECT attempts FROM workflow_steps WHERE name = 'first'") >= 1);
  CHECK(c.scalar("SELECT count(*) FROM workflow_step_transitions t JOIN workflow_steps s "
                 "USING (workflow_step_uuid) WHERE s.name = 'first' AND t.to_state = "
                 "'complete'") == 1);
}

TEST_CASE("a duplicate step result changes nothing") {
  cluster c;
  c.register_template(single);
  c.submit("it", "single", 1);
  c.start_node("dup-node", {"--with-worker", "it"});
  INFO(c.logs());
  REQUIRE(c.wait_for(tasks_in("complete"), 1, 60s) == 1);
  auto transitions_before = c.scalar("SELECT count(*) FROM workflow_step_transitions");
  {
    auto conn = c.db().connect();
    pqxx::work tx{conn};
    auto row = tx.exec1("SELECT task_uuid::text, workflow_step_uuid::text FROM workflow_steps");
    messaging::step_result dup;
    dup.task_uuid = row[0].as<std::string>();
    dup.step_uuid = row[1].as<std::string>();
    dup.status = messaging::step_status::failed;
    messaging::step_error err;
    err.message = "late duplicate";
    dup.error = err;
    dup.attempt = 1;
    std::vector<nlohmann::json> twice{dup.to_json(), dup.to_json()};
    messaging::queue_client::send_batch(tx, "orchestration_step_results", twice);
    tx.commit();
  }
  // Consumed (deleted or archived) by the result processor.
  REQUIRE(c.wait_for("SELECT count(*) FROM tasker_mq.q_orchestration_step_results", 0, 60s) == 0);
  CHECK(c.scalar("SELECT count(*) FROM workflow_step_transitions") == transitions_before);
  CHECK(c.scalar("SELECT count(*) FROM workflow_steps WHERE current_state = 'complete'") == 1);
  CHECK(c.scalar(tasks_in("complete")) == 1);
}

TEST_CASE("malformed task requests land in the archive, each with a reason") {
  cluster c;
  c.register_template(single);
  c.send_raw_requests({nlohmann::json{{"garbage", true}}, nlohmann::json::array({1, 2}),
                       nlohmann::json{{"request_id", "00000000-0000-4000-8000-000000000999"},
                                      {"namespace", "it"},
                                      {"task_name", "no_such_template"},
                                      {"task_version", "1.0.0"},
                                      {"context", nlohmann::json::object()}}});
  c.submit("it", "single", 1);
  c.start_node("archive-node", {"--with-worker", "it"});
  REQUIRE(c.wait_for(tasks_in("complete"), 1, 60s) == 1);
  auto conn = c.db().connect();
  pqxx::work tx{conn};
  auto archived = messaging::queue_client::list_archived(tx, "orchestration_task_requests", 10);
  INFO(c.logs());
  REQUIRE(archived.size() == 3);
  bool names_template = false;
  for (const auto& a : archived) {
    CHECK_FALSE(a.reason.empty());
    names_template = names_template || a.reason.find("no_such_template") != std::string::npos;
  }
  CHECK(names_template);
  CHECK(c.scalar("SELECT count(*) FROM tasks") == 1);
}

TEST_CASE("a worker refuses a database whose schema is older than it, naming the fix") {
  cluster c;
  c.register_template(single);
  {
    auto conn = c.db().connect();
    pqxx::work tx{conn};
    tx.exec0("DELETE FROM tasker_schema_migrations"
             " WHERE version = '0043_restart_aware_rescue.sql'");
    tx.commit();
  }
  auto& worker = c.start_worker("it");
  CHECK(worker.wait(60s) == 2);
  CHECK(worker.output().find("the database schema is not current: run `tasker-node migrate`")
        != std::string::npos);
}
