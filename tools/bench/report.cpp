#include "tools/bench/report.hpp"

#include <cstdio>
#include <regex>
#include <sstream>
#include <string>

namespace tasker::bench {

namespace {

std::string fmt(double x, int decimals = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  return buf;
}

double num(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
}

void row(std::ostream& out, const std::string& what, const std::string& value,
         const std::string& target = "", int met = -1) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-52s %-20s %-14s %s\n", what.c_str(), value.c_str(),
                target.c_str(), met < 0 ? "" : (met ? "met" : "NOT met"));
  out << buf;
}

bool ok(const nlohmann::json& results, const char* key) {
  return results.contains(key) && !results[key].contains("error");
}

int verdict_if(bool judge, bool met) { return judge ? static_cast<int>(met) : -1; }

void burndown_rows(const nlohmann::json& r, bool judge, std::ostream& out) {
  if (ok(r, "burndown_naive"))
    row(out, "burndown, naive (" + r["burndown_naive"]["tasks"].dump() + " single-step tasks)",
        fmt(num(r["burndown_naive"], "tasks_per_second")) + " tasks/s");
  if (!ok(r, "burndown_coordinator"))
    return;
  auto& c = r["burndown_coordinator"];
  double tps = num(c, "tasks_per_second");
  row(out, "burndown, coordinator (" + c["tasks"].dump() + " single-step tasks)",
      fmt(tps) + " tasks/s", ">= 6000", verdict_if(judge, tps >= 6000));
  if (ok(r, "burndown_naive") && num(r["burndown_naive"], "tasks_per_second") > 0) {
    double ratio = tps / num(r["burndown_naive"], "tasks_per_second");
    row(out, "coordinator / naive", fmt(ratio, 1) + "x", ">= 5x", verdict_if(judge, ratio >= 5));
  }
  row(out, "CPU per task in burndown, whole machine (PostgreSQL, node, workers)",
      fmt(num(c, "machine_cpu_ms_per_task"), 2) + " ms");
  auto peak = num(c, "peak_node_connections_busy");
  auto budget = num(c, "executor_budget");
  row(out, "peak node connections in use (non-idle) in burndown",
      fmt(peak) + " of " + fmt(budget), "<= budget", verdict_if(judge, peak <= budget));
  const bool leases_known =
    c.contains("peak_broker_leases") && c["peak_broker_leases"].is_number();
  const auto leases = num(c, "peak_broker_leases");
  row(out, "peak broker leases in burndown (node's own count)",
      leases_known ? fmt(leases) + " of " + fmt(budget)
                   : "not reported (no broker_closed line in the node's log)",
      leases_known ? "<= budget" : "", leases_known ? verdict_if(judge, leases <= budget) : -1);
  row(out, "peak node connections open in burndown",
      fmt(num(c, "peak_node_connections")) + " of pool " + fmt(num(c, "pool_max_connections")),
      "<= pool max",
      verdict_if(judge, num(c, "peak_node_connections") <= num(c, "pool_max_connections")));
  row(out, "scaling events logged during burndown", c["scaling_events"].dump());
}

} // namespace

std::optional<broker_peak> broker_peak_from_log(const std::string& node_log) {
  static const std::regex pattern{
    R"(coordinator: broker_closed: \d+ lease\(s\) still out; at most (\d+) of (\d+) connections)"};
  std::optional<broker_peak> out;
  std::istringstream in{node_log};
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, pattern))
      out = broker_peak{std::stoll(m[1].str()), std::stoll(m[2].str())};
  }
  return out;
}

std::string reference_line(const nlohmann::json& machine) {
  auto ms = [&](const char* key) -> std::string {
    if (!machine.contains(key) || !machine[key].contains("min_ms"))
      return {};
    return fmt(machine[key]["min_ms"].get<double>()) + " ms";
  };
  auto before = ms("reference_before");
  if (before.empty())
    return {};
  auto after = ms("reference_after");
  return "machine speed: reference loop " + before + " before the scenarios" +
         (after.empty() ? std::string{} : ", " + after + " after") + " (lower is faster)";
}

void print_settings(const nlohmann::json& results) {
  auto& pg = results["postgres"];
  std::printf("PostgreSQL %s: fsync=%s synchronous_commit=%s wal_level=%s wal_sync_method=%s\n",
              pg["server_version"].get<std::string>().c_str(), pg["fsync"].get<std::string>().c_str(),
              pg["synchronous_commit"].get<std::string>().c_str(),
              pg["wal_level"].get<std::string>().c_str(),
              pg["wal_sync_method"].get<std::string>().c_str());
  if (auto line = reference_line(results["machine"]); !line.empty())
    std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void print_table(const nlohmann::json& r, std::ostream& out) {
  out << "\n";
  if (r.contains("postgres")) {
    auto& pg = r["postgres"];
    out << "PostgreSQL " << pg["server_version"].get<std::string>()
        << ": fsync=" << pg["fsync"].get<std::string>()
        << " synchronous_commit=" << pg["synchronous_commit"].get<std::string>()
        << " wal_level=" << pg["wal_level"].get<std::string>() << "\n";
  }
  auto& m = r["machine"];
  out << "machine: " << m["nproc"].dump() << " cores, " << m["memory_mib"].dump() << " MiB"
      << (r["quick"].get<bool>() ? ", --quick sizes" : "") << "\n";
  if (auto line = reference_line(m); !line.empty())
    out << line << "\n";
  out << "\n";
  // The targets name full-size runs: --quick sizes are printed, not judged.
  const bool judge = !r.value("quick", false);
  row(out, "measure", "value", "target", -1);
  burndown_rows(r, judge, out);
  if (ok(r, "dag_burndown")) {
    auto& d = r["dag_burndown"];
    row(out, "DAG burndown (" + d["tasks"].dump() + " diamond tasks)",
        fmt(num(d, "steps_per_second")) + " steps/s");
  }
  if (ok(r, "latency")) {
    auto& l = r["latency"]["submit_to_complete_ms"];
    auto label = "linear-4 latency at " + fmt(num(r["latency"], "rate_per_second")) + "/s";
    // Without commit timestamps the end is the completing transaction's
    // start: a lower bound, judged against nothing.
    bool committed = r["latency"].value("complete_at", "") == "commit";
    // The target is for 20 tasks a second.
    bool at_target_rate = num(r["latency"], "rate_per_second") == 20.0;
    auto verdict = [&](bool met) {
      return verdict_if(committed && at_target_rate && judge, met);
    };
    if (!committed)
      label += " (to the last transaction's start)";
    row(out, label + ", p50", fmt(num(l, "p50"), 1) + " ms", "<= 20 ms",
        verdict(num(l, "p50") <= 20));
    row(out, label + ", p95", fmt(num(l, "p95"), 1) + " ms");
    row(out, label + ", p99", fmt(num(l, "p99"), 1) + " ms", "<= 50 ms",
        verdict(num(l, "p99") <= 50));
    if (!committed)
      out << "  (latency not judged: the server's track_commit_timestamp is off, so the end of each\n"
             "   task is the start of the transaction that completed it, not its commit)\n";
    else if (!at_target_rate && judge)
      out << "  (latency not judged: the target is for 20 tasks a second)\n";
  }
  if (ok(r, "scaling_curve"))
    for (auto& p : r["scaling_curve"])
      row(out, "fixed pools, " + p["mode"].get<std::string>().substr(5) + " executor(s) per pool",
          fmt(num(p, "tasks_per_second")) + " tasks/s");
  if (ok(r, "coordinator_cost")) {
    auto& c = r["coordinator_cost"];
    row(out, "coordinator CPU at " + c["executors"].dump() + " executors (1 Hz)",
        fmt(num(c, "coordinator_cpu_percent"), 2) + " % core", "< 5 %",
        verdict_if(judge && num(c, "executors") >= 10000,
                   num(c, "coordinator_cpu_percent") < 5));
    if (judge && num(c, "executors") < 10000)
      out << "  (coordinator cost not judged: the target is for 10,000 executors)\n";
  }
  if (!judge)
    out << "  (--quick sizes: the targets are for full-size runs and are not judged)\n";
  for (auto& [key, value] : r.items())
    if (value.is_object() && value.contains("error"))
      row(out, key, "FAILED: " + value["error"].get<std::string>().substr(0, 60));
}

} // namespace tasker::bench
