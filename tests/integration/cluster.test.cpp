// Several nodes on one database: the work is shared, never done twice.
#include "tests/integration/harness.hpp"

#include <doctest/doctest.h>

using namespace tasker;
using namespace tasker::testing;
using namespace std::chrono_literals;

namespace {

const char* pair = R"(
namespace = "it"
name = "pair"
version = "1.0.0"
[[steps]]
name = "a"
handler = "noop"
[[steps]]
name = "b"
handler = "noop"
depends_on = ["a"]
)";

} // namespace

TEST_CASE("two nodes on one database complete 1000 tasks and no step completes twice") {
  cluster c;
  c.register_template(pair);
  c.submit("it", "pair", 1000);
  c.start_node("node-a", {"--with-worker", "it"});
  c.start_node("node-b", {"--with-worker", "it"});
  auto done = c.wait_for(tasks_in("complete"), 1000, 480s);
  INFO(c.logs());
  REQUIRE(done == 1000);
  CHECK(c.scalar("SELECT count(*) FROM (SELECT workflow_step_uuid FROM workflow_step_transitions "
                 "WHERE to_state = 'complete' GROUP BY 1 HAVING count(*) > 1) twice") == 0);
  CHECK(c.scalar("SELECT count(*) FROM workflow_step_transitions WHERE to_state = 'complete'")
        == 2000);
}
