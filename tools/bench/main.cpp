/// tasker-bench: throughput, latency, connection use and coordinator cost of
/// Tasker measured on real nodes, real workers and a real PostgreSQL.
/// See docs/performance.md.

#include "tools/bench/coordinator_cost.hpp"
#include "tools/bench/database.hpp"
#include "tools/bench/report.hpp"
#include "tools/bench/scenarios.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>
#include <unistd.h>

using namespace tasker::bench;

namespace {

struct sizes {
  std::int64_t tasks = 20000;
  std::int64_t naive_tasks = 0; // 0: same as tasks
  std::int64_t dag_tasks = 5000;
  double latency_rate = 20;
  double latency_seconds = 30;
  std::int64_t scaling_tasks = 10000;
  std::vector<int> scaling_executors{1, 2, 4, 8};
  std::size_t coord_executors = 10000;
  double coord_seconds = 20;
  std::size_t coord_rounds = 3;
};

void apply_quick(sizes& s) {
  s.tasks = 2000;
  s.naive_tasks = 1000;
  s.dag_tasks = 500;
  s.latency_rate = 10;
  s.latency_seconds = 10;
  s.scaling_tasks = 1000;
  s.coord_executors = 2000;
  s.coord_seconds = 5;
  s.coord_rounds = 1;
}

nlohmann::json machine() {
  nlohmann::json out;
  out["nproc"] = std::thread::hardware_concurrency();
  out["memory_mib"] = sysconf(_SC_PHYS_PAGES) / 1024 * sysconf(_SC_PAGE_SIZE) / 1024;
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) == 3)
    out["load_average_at_start"] = {load[0], load[1], load[2]};
  auto now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  out["started_at"] = buf;
  return out;
}

template <class F>
void scenario(nlohmann::json& results, const std::string& key, F&& body) {
  std::printf("== %s\n", key.c_str());
  std::fflush(stdout);
  try {
    results[key] = body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tasker-bench: %s failed: %s\n", key.c_str(), e.what());
    results[key] = {{"error", e.what()}};
  }
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"tasker-bench: measure Tasker on real nodes and a real PostgreSQL"};
  sizes sz;
  bool quick = false;
  std::string database_url;
  std::string out_file = std::string{TASKER_BENCH_SOURCE_DIR} + "/var/bench/results.json";
  std::vector<std::string> selected{"burndown", "dag", "latency", "scaling", "coordinator"};
  deployment dep;
  dep.repo_root = TASKER_BENCH_SOURCE_DIR;
  dep.node_binary = TASKER_NODE_BIN;
  app.add_option("--scenarios", selected,
                 "which to run: burndown (with naive and connections), dag, latency, scaling, "
                 "coordinator")
    ->delimiter(',')
    ->check(CLI::IsMember({"burndown", "dag", "latency", "scaling", "coordinator"}));
  app.add_flag("--quick", quick, "small sizes (a few minutes on a laptop)");
  app.add_option("--database-url", database_url,
                 "use this server (its maintenance database URL) instead of a throwaway one");
  app.add_option("--out", out_file, "JSON results file");
  app.add_option("--tasks", sz.tasks, "single-step tasks in the burndown");
  app.add_option("--naive-tasks", sz.naive_tasks, "tasks in the naive burndown (default: --tasks)");
  app.add_option("--dag-tasks", sz.dag_tasks, "diamond tasks in the DAG burndown");
  app.add_option("--latency-rate", sz.latency_rate, "linear4 tasks submitted per second");
  app.add_option("--latency-seconds", sz.latency_seconds, "how long to submit");
  app.add_option("--scaling-tasks", sz.scaling_tasks, "tasks per point of the scaling curve");
  app.add_option("--scaling-executors", sz.scaling_executors, "executors per pool, each point")
    ->delimiter(',');
  app.add_option("--coord-executors", sz.coord_executors, "heartbeating executors");
  app.add_option("--coord-seconds", sz.coord_seconds, "CPU measuring window per phase");
  app.add_option("--coord-rounds", sz.coord_rounds,
                 "alternating rounds of both phases; the median difference is reported");
  app.add_option("--node-binary", dep.node_binary, "the tasker-node to run");
  app.add_option("--workers", dep.worker_processes, "tasker-node worker processes");
  app.add_option("--worker-concurrency", dep.worker_concurrency, "worker actors per process");
  app.add_option("--worker-batch", dep.worker_batch,
                 "most messages a worker actor claims at once (0: the worker's default)");
  app.add_option("--batch-size", dep.batch_size,
                 "every executor pool's batch_size and max_batch_size outside --naive (0: the shipped configuration)");
  app.add_option("--timeout", dep.timeout_seconds, "seconds before a scenario is abandoned");
  app.add_flag("--keep-databases", dep.keep_databases,
               "keep each scenario's database (with --database-url) for analysis");
  app.add_option("--node-set", dep.node_sets,
                 "KEY=VALUE: a setting for every node outside --naive, after the bench's own "
                 "(repeatable; e.g. executor_pools.task_request_processor.min_executors=2)");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    // Quick sizes, except where a size was given explicitly.
    sizes q;
    apply_quick(q);
    auto given = [&](const char* flag) { return app.count(flag) > 0; };
    if (!given("--tasks"))
      sz.tasks = q.tasks;
    if (!given("--naive-tasks"))
      sz.naive_tasks = q.naive_tasks;
    if (!given("--dag-tasks"))
      sz.dag_tasks = q.dag_tasks;
    if (!given("--latency-rate"))
      sz.latency_rate = q.latency_rate;
    if (!given("--latency-seconds"))
      sz.latency_seconds = q.latency_seconds;
    if (!given("--scaling-tasks"))
      sz.scaling_tasks = q.scaling_tasks;
    if (!given("--coord-executors"))
      sz.coord_executors = q.coord_executors;
    if (!given("--coord-seconds"))
      sz.coord_seconds = q.coord_seconds;
    if (!given("--coord-rounds"))
      sz.coord_rounds = q.coord_rounds;
  }
  if (sz.naive_tasks == 0)
    sz.naive_tasks = sz.tasks;
  std::set<std::string> want{selected.begin(), selected.end()};

  dep.log_dir = std::string{TASKER_BENCH_SOURCE_DIR} + "/var/bench/logs";
  std::filesystem::create_directories(dep.log_dir);
  std::filesystem::create_directories(std::filesystem::path{out_file}.parent_path());

  nlohmann::json results;
  results["machine"] = machine();
  results["quick"] = quick;
  results["deployment"] = {{"node", "tasker-node run (no embedded worker)"},
                           {"worker_processes", dep.worker_processes},
                           {"worker_concurrency", dep.worker_concurrency},
                           {"worker_batch", dep.worker_batch},
                           {"batch_size", dep.batch_size},
                           {"submission", "task requests via send_batch, before the node starts"}};
  try {
    server srv{dep.repo_root, database_url, dep.repo_root + "/var/pg-bench"};
    results["postgres"] = srv.settings();
    results["machine"]["reference_before"] = srv.reference_speed();
    print_settings(results);
    if (want.count("burndown")) {
      scenario(results, "burndown_naive",
               [&] { return run_burndown(srv, dep, naive_setup(), "single", sz.naive_tasks, 1); });
      scenario(results, "burndown_coordinator", [&] {
        return run_burndown(srv, dep, auto_scaling_setup(dep.batch_size), "single", sz.tasks, 1);
      });
    }
    if (want.count("dag"))
      scenario(results, "dag_burndown", [&] {
        return run_burndown(srv, dep, auto_scaling_setup(dep.batch_size), "diamond", sz.dag_tasks, 4);
      });
    if (want.count("latency"))
      scenario(results, "latency", [&] {
        return run_latency(srv, dep, auto_scaling_setup(dep.batch_size), sz.latency_rate, sz.latency_seconds);
      });
    if (want.count("scaling"))
      scenario(results, "scaling_curve", [&] {
        nlohmann::json points = nlohmann::json::array();
        for (int k : sz.scaling_executors)
          points.push_back(run_burndown(srv, dep, fixed_setup(k, dep.batch_size), "single", sz.scaling_tasks, 1));
        return points;
      });
    results["machine"]["reference_after"] = srv.reference_speed();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tasker-bench: %s\n", e.what());
    results["error"] = e.what();
  }
  if (want.count("coordinator"))
    scenario(results, "coordinator_cost", [&] {
      return run_coordinator_cost(sz.coord_executors, sz.coord_seconds, 3.0, sz.coord_rounds);
    });
  print_table(results, std::cout);
  std::ofstream{out_file} << results.dump(2) << '\n';
  std::printf("results written to %s\n", out_file.c_str());
  return results.contains("error") ? 1 : 0;
}
