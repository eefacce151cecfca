// A PostgreSQL server with few connections: a node whose pool cannot fit
// refuses to start and says why; a node whose small pool fits keeps working
// with the server full, and never holds more connections than its budget.
#include "tests/fault/process/fault_support.hpp"
#include "tests/integration/harness.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <stop_token>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace tasker::testing;
using namespace std::chrono_literals;

namespace {

constexpr int server_max_connections = 20;
const std::string node_app = "tasker-fault-node";

} // namespace

TEST_CASE("a node whose database pool exceeds the server's max_connections refuses to start "
          "and names the numbers") {
  dedicated_server server{server_max_connections};
  cluster c;
  auto& node = c.launch_node("greedy-node", {"--set", "database.pool.max_connections=40"});
  auto code = node.wait(60s);
  auto out = node.output();
  INFO(out);
  CHECK(code == 2);
  CHECK(out.find("running") == std::string::npos);
  CHECK(out.find("refusing to start") != std::string::npos);
  CHECK(out.find("max_connections 40") != std::string::npos);
  CHECK(out.find("max_connections " + std::to_string(server_max_connections))
        != std::string::npos);
  CHECK(out.find("reserved") != std::string::npos);
}

TEST_CASE("a node with a small pool on a full server completes its tasks and never exceeds "
          "its connection budget") {
  const int tasks = long_variant() ? 3000 : 500;
  dedicated_server server{server_max_connections};
  cluster c;
  c.register_template(single_noop_template);
  // Pool 8 with 3 reserved: 5 executor connections, one per pool minimum.
  const int pool = 8;
  auto& node = c.start_node("frugal-node",
                            {"--http-port", "0", "--set",
                             "database.pool.max_connections=" + std::to_string(pool)},
                            {{"PGAPPNAME", node_app}});
  auto& worker =
    c.start_worker("fault", {"--concurrency", "2"}, {{"PGAPPNAME", "tasker-fault-worker"}});
  auto port = http_port_of(node);

  // One connection samples pg_stat_activity throughout; opened before the
  // server fills up.
  auto sampler = std::make_unique<pqxx::connection>(server.url());
  auto sessions_of = [&](const std::string& app) {
    pqxx::read_transaction tx{*sampler};
    return tx.exec1("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                    + tx.quote(app))[0]
      .as<int>();
  };
  // Every process has its connections before the server fills up: what
  // they open later competes for the few slots left.
  REQUIRE_MESSAGE(poll_until([&] { return sessions_of(node_app) == pool; }, 60s),
                  "the node never held its " << pool << " connections: " << sessions_of(node_app));
  REQUIRE_MESSAGE(
    poll_until([&] { return occurrences(worker.output(), "consuming fault_queue") >= 2; }, 60s),
    "the worker did not start consuming:\n" << worker.output());
  MESSAGE("sessions before the server filled up: node " << sessions_of(node_app) << ", worker "
                                                         << sessions_of("tasker-fault-worker"));
  // Fill the server: every slot left goes to idle sessions, then four are
  // given back for the test's own queries (at most two at a time).
  std::vector<std::unique_ptr<pqxx::connection>> hogs;
  std::string refusal;
  while (hogs.size() < static_cast<std::size_t>(server_max_connections)) {
    try {
      hogs.push_back(std::make_unique<pqxx::connection>(server.url()));
    } catch (const std::exception& e) {
      refusal = e.what();
      break;
    }
  }
  INFO("server refusal: " << refusal);
  REQUIRE_MESSAGE(refusal.find("too many clients") != std::string::npos,
                  "the server never refused a connection after " << hogs.size() << " more");
  REQUIRE(hogs.size() >= 4);
  hogs.resize(hogs.size() - 4);
  // A closed session's backend exits after the client has gone, so its slot
  // is free a moment later: wait until the test's two connections fit.
  REQUIRE_MESSAGE(poll_until(
                      [&] {
                        try {
                          pqxx::connection a{server.url()};
                          pqxx::connection b{server.url()};
                          return true;
                        } catch (const pqxx::broken_connection&) {
                          return false;
                        }
                      },
                      30s),
                  "the four slots given back never became free");

  std::atomic<int> max_node_connections{0};
  std::atomic<int> max_leased{0};
  std::atomic<int> samples{0};
  std::string sampler_error;
  // A jthread: joined on every way out of the test, a failed REQUIRE included.
  std::jthread watcher{[&](std::stop_token stop) {
    try {
      while (!stop.stop_requested()) {
        pqxx::read_transaction tx{*sampler};
        auto n = tx.exec1("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                          + tx.quote(node_app))[0]
                   .as<int>();
        tx.commit();
        max_node_connections = std::max(max_node_connections.load(), n);
        auto answer = http_get(port, "/health/orchestration/resources");
        auto r = nlohmann::json::parse(answer.body, nullptr, false);
        if (!r.is_discarded() && r.contains("current_utilization"))
          max_leased = std::max(max_leased.load(),
                                r["current_utilization"].value("database_connections_used", 0));
        ++samples;
        std::this_thread::sleep_for(100ms);
      }
    } catch (const std::exception& e) {
      sampler_error = e.what();
    }
  }};

  c.submit("fault", "single", tasks);
  auto done = c.wait_for(tasks_in("complete"), tasks, long_variant() ? 900s : 420s);
  // A quick run can finish within a few samples; the node keeps its pool open
  // after the tasks, so sampling on until there are enough still checks it.
  poll_until([&] { return samples.load() >= 5; }, 10s);
  watcher.request_stop();
  watcher.join();
  INFO(c.logs());
  INFO("sampler: " << sampler_error);
  REQUIRE(done == tasks);
  CHECK(sampler_error.empty());
  CHECK(node.running());
  CHECK(samples.load() >= 5);
  MESSAGE("node connections at most " << max_node_connections.load() << ", leases at most "
                                      << max_leased.load() << " over " << samples.load()
                                      << " samples");
  // The whole node (executors + listener, poller, cluster member) stays within its pool.
  CHECK(max_node_connections.load() >= 5);
  CHECK(max_node_connections.load() <= pool);
  CHECK(max_leased.load() <= pool - 3);
  CHECK(c.scalar("SELECT count(*) FROM workflow_step_transitions WHERE to_state = 'complete'")
        == tasks);
}
