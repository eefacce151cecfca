// The orchestration pipeline end to end: requests in, DAG order, retries with
// backoff, and the error state past the retry limit.
#include "actors/processors/backoff.hpp"
#include "tests/integration/harness.hpp"
#include "tools/common/noop_templates.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

using namespace tasker;
using namespace tasker::testing;
using namespace std::chrono_literals;

namespace {

const std::string diamond = tools::diamond_template("it");

const char* flaky = R"(
namespace = "it"
name = "flaky"
version = "1.0.0"
[[steps]]
name = "only"
handler = "fail"
retry_limit = 3
backoff = { base_ms = 500, max_ms = 5000, jitter = 0 }
inputs = { failures = 2 }
)";

const char* hopeless = R"(
namespace = "it"
name = "hopeless"
version = "1.0.0"
[[steps]]
name = "only"
handler = "fail"
retry_limit = 2
backoff = { base_ms = 100, max_ms = 1000, jitter = 0 }
inputs = { failures = 10 }
)";

} // namespace

TEST_CASE("500 diamond tasks complete and every child starts only after both parents completed") {
  cluster c;
  c.register_template(diamond);
  c.submit("it", "diamond", 500);
  c.start_node("diamond-node", {"--with-worker", "it"});
  auto done = c.wait_for(tasks_in("complete"), 500, 400s);
  INFO(c.logs());
  REQUIRE(done == 500);
  CHECK(c.scalar("SELECT count(*) FROM workflow_steps WHERE current_state = 'complete'") == 2000);
  // For every edge: the child's first in_progress is not earlier than the
  // parent's complete transition.
  auto violations = c.scalar(R"(
    SELECT count(*) FROM workflow_step_edges e
    CROSS JOIN LATERAL (SELECT min(created_at) AS at FROM workflow_step_transitions
                        WHERE workflow_step_uuid = e.to_step_uuid AND to_state = 'in_progress') c
    CROSS JOIN LATERAL (SELECT max(created_at) AS at FROM workflow_step_transitions
                        WHERE workflow_step_uuid = e.from_step_uuid AND to_state = 'complete') p
    WHERE c.at IS NULL OR p.at IS NULL OR c.at < p.at)");
  CHECK(violations == 0);
  CHECK(c.scalar("SELECT count(*) FROM workflow_step_edges") == 2000);
}

TEST_CASE("a step that fails twice completes on its third attempt, each retry after its backoff") {
  cluster c;
  c.register_template(flaky);
  c.submit("it", "flaky", 1);
  c.start_node("flaky-node", {"--with-worker", "it"});
  auto done = c.wait_for(tasks_in("complete"), 1, 120s);
  INFO(c.logs());
  REQUIRE(done == 1);
  CHECK(c.scalar("SELECT attempts FROM workflow_steps") == 3);
  auto conn = c.db().connect();
  pqxx::read_transaction tx{conn};
  // Each retry's start against the failure before it.
  auto rows = tx.exec(R"(
    SELECT extract(epoch FROM s.created_at - e.created_at) * 1000 AS gap_ms
    FROM workflow_step_transitions e
    JOIN LATERAL (SELECT created_at FROM workflow_step_transitions s
                  WHERE s.workflow_step_uuid = e.workflow_step_uuid
                    AND s.to_state = 'in_progress' AND s.sort_key > e.sort_key
                  ORDER BY s.sort_key LIMIT 1) s ON true
    WHERE e.to_state = 'error' ORDER BY e.sort_key)");
  REQUIRE(rows.size() == 2);
  messaging::backoff_policy policy{500, 5000, 0.0};
  for (int i = 0; i < 2; ++i) {
    auto gap = rows[i][0].as<double>();
    auto floor = static_cast<double>(actors::backoff_delay(i + 1, policy, 0.0).count());
    INFO("retry " << i + 1 << ": gap " << gap << " ms, backoff " << floor << " ms");
    CHECK(gap >= floor - 5.0); // 5 ms: timestamp rounding only
  }
}

TEST_CASE("a step that keeps failing past its retry limit puts its task in error") {
  cluster c;
  c.register_template(hopeless);
  c.submit("it", "hopeless", 1);
  c.start_node("hopeless-node", {"--with-worker", "it"});
  auto failed = c.wait_for(tasks_in("error"), 1, 120s);
  INFO(c.logs());
  REQUIRE(failed == 1);
  CHECK(c.scalar("SELECT attempts FROM workflow_steps") == 2);
  CHECK(c.scalar("SELECT count(*) FROM workflow_steps WHERE current_state = 'error'") == 1);
}

TEST_CASE("the node runs with the allocator it was built with and says which at start") {
  cluster c;
  auto& node = c.start_node("allocator-node", {"--set", "telemetry.logging.level=info"});
  std::ifstream maps{"/proc/" + std::to_string(node.pid()) + "/maps"};
  REQUIRE(maps.good());
  std::stringstream mapped;
  mapped << maps.rdbuf();
  INFO(node.output());
#ifdef TASKER_WITH_JEMALLOC
  CHECK(node.output().find("allocator: jemalloc 5") != std::string::npos);
  CHECK(mapped.str().find("libjemalloc") != std::string::npos);
#else
  CHECK(node.output().find("allocator: the C library's malloc") != std::string::npos);
  CHECK(mapped.str().find("libjemalloc") == std::string::npos);
#endif
}
