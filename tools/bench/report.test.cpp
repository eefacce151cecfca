#include "tools/bench/report.hpp"

#include <doctest/doctest.h>

#include <sstream>
#include <string>

using tasker::bench::print_table;

namespace {

// A results document as tasker-bench writes it, with the figures the table
// reads; `quick`, the latency rate and the executors vary per test.
nlohmann::json results(bool quick, double rate, int executors, double p50) {
  return {
      {"quick", quick},
      {"machine", {{"nproc", 2}, {"memory_mib", 24000}}},
      {"burndown_naive", {{"tasks", 1000}, {"tasks_per_second", 300.0}}},
      {"burndown_coordinator",
       {{"tasks", 10000},
        {"tasks_per_second", 6200.0},
        {"machine_cpu_ms_per_task", 0.31},
        {"peak_node_connections_busy", 2},
        {"executor_budget", 35},
        {"peak_node_connections", 38},
        {"peak_broker_leases", 3},
        {"pool_max_connections", 40},
        {"scaling_events", 0}}},
      {"latency",
       {{"complete_at", "commit"},
        {"rate_per_second", rate},
        {"submit_to_complete_ms", {{"p50", p50}, {"p95", 25.0}, {"p99", 30.0}}}}},
      {"coordinator_cost", {{"executors", executors}, {"coordinator_cpu_percent", 2.4}}},
  };
}

std::string table(const nlohmann::json& r) {
  std::ostringstream out;
  print_table(r, out);
  return out.str();
}

// The verdict at the end of the table's line that starts with `measure`.
std::string verdict(const std::string& text, const std::string& measure) {
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    if (line.rfind(measure, 0) == 0) {
      if (line.find("NOT met") != std::string::npos)
        return "NOT met";
      return line.find(" met") != std::string::npos ? "met" : "";
    }
  return "<no line>";
}

} // namespace

TEST_CASE("a full-size run is judged against every target") {
  auto text = table(results(false, 20, 10000, 21.0));
  CHECK(verdict(text, "burndown, coordinator") == "met");
  CHECK(verdict(text, "coordinator / naive") == "met");
  CHECK(verdict(text, "linear-4 latency at 20/s, p50") == "NOT met");
  CHECK(verdict(text, "linear-4 latency at 20/s, p99") == "met");
  CHECK(verdict(text, "coordinator CPU at 10000") == "met");
  CHECK(verdict(text, "peak broker leases") == "met");
  CHECK(text.find("not judged") == std::string::npos);
}

TEST_CASE("broker leases above the executor budget are not met, and a missing count is said") {
  auto r = results(false, 20, 10000, 15.0);
  r["burndown_coordinator"]["peak_broker_leases"] = 36;
  CHECK(verdict(table(r), "peak broker leases") == "NOT met");
  r["burndown_coordinator"]["peak_broker_leases"] = nullptr;
  auto text = table(r);
  CHECK(verdict(text, "peak broker leases") == "");
  CHECK(text.find("not reported (no broker_closed line") != std::string::npos);
}

TEST_CASE("the broker's peak is read from its line at the node's shutdown") {
  using tasker::bench::broker_peak_from_log;
  auto got = broker_peak_from_log(
    "[2026-11-28 13:30:54.290] [info] coordinator: pools_drained: every executor stopped\n"
    "[2026-11-28 13:30:54.297] [info] coordinator: broker_closed: 0 lease(s) still out; "
    "at most 3 of 35 connections leased at once\n"
    "[2026-11-28 13:30:54.340] [info] node bench-coordinator: stopped\n");
  REQUIRE(got);
  CHECK(got->peak == 3);
  CHECK(got->size == 35);
  CHECK_FALSE(broker_peak_from_log("[info] coordinator: broker_closed: 0 lease(s) still out\n"));
  CHECK_FALSE(broker_peak_from_log(""));
}

TEST_CASE("a --quick run prints its figures without verdicts") {
  auto text = table(results(true, 10, 2000, 27.0));
  CHECK(verdict(text, "burndown, coordinator") == "");
  CHECK(verdict(text, "coordinator / naive") == "");
  CHECK(verdict(text, "peak node connections in use") == "");
  CHECK(verdict(text, "linear-4 latency at 10/s, p50") == "");
  CHECK(verdict(text, "coordinator CPU at 2000") == "");
  CHECK(text.find("--quick sizes: the targets are for full-size runs") != std::string::npos);
}

TEST_CASE("latency at another rate and the coordinator at fewer executors are not judged") {
  auto text = table(results(false, 50, 5000, 15.0));
  CHECK(verdict(text, "burndown, coordinator") == "met");
  CHECK(verdict(text, "linear-4 latency at 50/s, p50") == "");
  CHECK(text.find("latency not judged: the target is for 20 tasks a second") != std::string::npos);
  CHECK(verdict(text, "coordinator CPU at 5000") == "");
  CHECK(text.find("coordinator cost not judged: the target is for 10,000 executors")
        != std::string::npos);
}

TEST_CASE("the machine's reference time is printed when the run measured it") {
  auto r = results(false, 20, 10000, 15.0);
  CHECK(tasker::bench::reference_line(r["machine"]).empty());
  CHECK(table(r).find("machine speed") == std::string::npos);

  r["machine"]["reference_before"] = {{"runs_ms", {131.0, 104.4, 110.0}}, {"min_ms", 104.4}};
  CHECK(tasker::bench::reference_line(r["machine"])
        == "machine speed: reference loop 104 ms before the scenarios (lower is faster)");
  r["machine"]["reference_after"] = {{"runs_ms", {151.0, 149.6}}, {"min_ms", 149.6}};
  const auto line = tasker::bench::reference_line(r["machine"]);
  CHECK(line == "machine speed: reference loop 104 ms before the scenarios, 150 ms after "
                "(lower is faster)");
  CHECK(table(r).find(line + "\n") != std::string::npos);
}
