// A node killed with SIGKILL in the middle of a run: its peers mark it dead,
// release its claims and finish its work; nothing is completed twice.
#include "tests/fault/process/fault_support.hpp"
#include "tests/integration/harness.hpp"

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>

using namespace tasker::testing;
using namespace std::chrono_literals;

namespace {

std::string claimed_unfinished(const std::string& node) {
  return "SELECT count(*) FROM tasks WHERE claimed_by = '" + node
         + "' AND current_state NOT IN ('complete', 'cancelled', 'resolved_manually')";
}

std::string node_status_is(const std::string& node, const std::string& status) {
  return "SELECT count(*) FROM nodes WHERE node_id = '" + node + "' AND status = '" + status + "'";
}

// Tasks sent, not yet complete.
std::int64_t unfinished(cluster& c, std::int64_t sent) {
  return sent - c.scalar(tasks_in("complete"));
}

// Kills `victim` (node `id`) once it holds claims on unfinished tasks, then
// waits until a peer has swept it dead and its claims are gone. `tasks`: all
// the tasks sent so far; grown by `refill` whenever the run is about to end
// before the victim was caught (a fast run can finish its batch between two
// of the watch's catches), so that it always dies mid-run.
void kill_and_confirm_sweep(cluster& c, child_process& victim, const std::string& id,
                            std::int64_t& tasks, int refill) {
  // A claim lives from the claimer's commit to the enqueuer's, often a few
  // milliseconds, so a node is not always holding one. Watch the victim's
  // claims closely (one query after another on a connection of the test's
  // own), freeze it the moment one shows and keep it frozen once it is caught
  // holding claims on unfinished tasks, then kill it: it dies holding them,
  // and only the sweep (or their claim timeout) gives them to its peers.
  // Freezing it blindly instead, a few times a second, could miss every
  // claim until the run was over.
  pqxx::connection watch{c.db().url()};
  auto claims_now = [&] {
    pqxx::nontransaction tx{watch};
    return tx.exec1(claimed_unfinished(id))[0].as<std::int64_t>();
  };
  std::int64_t stranded = 0;
  int refills = 0;
  const bool caught = poll_until(
      [&] {
        if (unfinished(c, tasks) < refill / 2) {
          c.submit("fault", "single", refill, {{"refill", ++refills}, {"victim", id}});
          tasks += refill;
        }
        const auto until = std::chrono::steady_clock::now() + 2s;
        bool seen = false;
        while (!seen && std::chrono::steady_clock::now() < until)
          seen = claims_now() > 0;
        if (!seen)
          return false;
        victim.signal(SIGSTOP);
        // Statements it sent before it stopped still finish on the server.
        std::this_thread::sleep_for(300ms);
        stranded = c.scalar(claimed_unfinished(id));
        if (stranded > 0)
          return true;
        victim.signal(SIGCONT);
        return false;
      },
      120s);
  REQUIRE_MESSAGE(caught, id << " was never caught holding a claim on an unfinished task:\n"
                             << c.logs());
  victim.signal(SIGKILL);
  REQUIRE_MESSAGE(victim.wait(10s) == 128 + SIGKILL, id << " did not die from SIGKILL");
  CHECK_MESSAGE(c.scalar(claimed_unfinished(id)) == stranded,
                id << "'s claims changed after it was frozen");
  CHECK_MESSAGE(c.scalar(tasks_in("complete")) < tasks,
                "every task completed before " << id << " died: the kill was not mid-run");
  MESSAGE(id << " died holding " << stranded << " unfinished tasks (" << refills
             << " batches sent to keep the run going until then)");
  // Three missed node heartbeats (5 s each in the test environment) and a sweep.
  auto dead = c.wait_for(node_status_is(id, "dead"), 1, 120s);
  INFO(c.logs());
  REQUIRE_MESSAGE(dead == 1, id << " was never marked dead in the nodes table");
  CHECK_MESSAGE(c.scalar("SELECT count(*) FROM tasks WHERE claimed_by = '" + id + "'") == 0,
                "the dead node " << id << " still holds task claims");
}

void check_every_step_completed_once(cluster& c, std::int64_t tasks) {
  CHECK(c.scalar(tasks_in("complete")) == tasks);
  CHECK(c.scalar("SELECT count(*) FROM workflow_steps WHERE current_state = 'complete'") == tasks);
  CHECK_MESSAGE(c.scalar("SELECT count(*) FROM (SELECT workflow_step_uuid FROM "
                         "workflow_step_transitions WHERE to_state = 'complete' GROUP BY 1 "
                         "HAVING count(*) > 1) twice") == 0,
                "a step has more than one `complete` transition");
  CHECK(c.scalar("SELECT count(*) FROM workflow_step_transitions WHERE to_state = 'complete'")
        == tasks);
  CHECK_MESSAGE(c.scalar("SELECT count(*) FROM (SELECT task_uuid FROM task_transitions "
                         "WHERE to_state = 'complete' GROUP BY 1 HAVING count(*) > 1) twice")
                  == 0,
                "a task has more than one `complete` transition");
}

} // namespace

TEST_CASE("a node killed with SIGKILL mid-run is swept dead, its claims are released and "
          "its peer completes every task exactly once") {
  const int tasks = long_variant() ? 6000 : 2000;
  cluster c;
  c.register_template(single_noop_template);
  c.submit("fault", "single", tasks);
  // Every task goes through the claim path, so a node dies holding claims.
  const std::vector<std::string> claim_path{"--set",
                                            "orchestration.start_tasks_on_creation=false"};
  auto& a = c.start_node("node-a", claim_path);
  auto& b = c.start_node("node-b", claim_path);
  c.start_worker("fault", {"--concurrency", "4"});
  c.start_worker("fault", {"--concurrency", "4"});
  // Mid-run: some work done, much left.
  REQUIRE_MESSAGE(poll_until([&] { return c.scalar(tasks_in("complete")) >= 100; }, 180s),
                  "no task completed within 180 s:\n" << c.logs());
  std::int64_t total = tasks;
  kill_and_confirm_sweep(c, a, "node-a", total, tasks / 2);
  if (long_variant()) {
    // A second victim: a fresh node joins and a second batch comes (the first
    // is done long before the first victim is swept), then the survivor of
    // the first kill dies in the middle of it.
    c.start_node("node-c", claim_path);
    c.submit("fault", "single", tasks, {{"batch", 2}});
    total += tasks;
    kill_and_confirm_sweep(c, b, "node-b", total, tasks / 2);
  }
  auto done = c.wait_for(tasks_in("complete"), total, long_variant() ? 900s : 420s);
  INFO(c.logs());
  REQUIRE(done == total);
  check_every_step_completed_once(c, total);
  CHECK(c.scalar(node_status_is(long_variant() ? "node-c" : "node-b", "live")) == 1);
}
