#include "tools/bench/scenarios.hpp"

#include "messaging/queue_client.hpp"
#include "messaging/wire.hpp"
#include "tools/bench/report.hpp"
#include "tools/bench/stats.hpp"
#include "tools/common/child_process.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include <unistd.h>

namespace tasker::bench {

using namespace std::chrono_literals;

namespace {

constexpr const char* node_app = "tasker_bench_node";
constexpr const char* worker_app = "tasker_bench_worker";

using tools::child_process;
/// Node and worker processes get this process's environment as it is.
const std::map<std::string, std::string> no_extra_env;

double epoch_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

/// CPU time the whole machine has spent busy (every process, PostgreSQL's
/// included, and the kernel), in seconds, from /proc/stat; 0 when unreadable.
double machine_busy_seconds() {
  std::ifstream in{"/proc/stat"};
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal)
      || cpu != "cpu")
    return 0;
  return static_cast<double>(user + nice + system + irq + softirq + steal)
         / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

/// The node and worker processes of one scenario; stopped on destruction.
struct processes {
  std::vector<std::unique_ptr<child_process>> workers;
  std::unique_ptr<child_process> node;

  double worker_cpu() const {
    double sum = 0;
    for (auto& w : workers)
      sum += w->cpu_seconds();
    return sum;
  }

  void stop() {
    if (node)
      node->stop();
    for (auto& w : workers)
      w->stop();
  }
};

std::vector<std::string> config_args(const deployment& dep, const std::string& url) {
  return {"--env", "bench", "--config-dir", dep.repo_root + "/config", "--database-url", url};
}

void start_workers(processes& ps, const deployment& dep, const std::string& db,
                   const std::string& server_url, const std::string& label) {
  for (int i = 0; i < dep.worker_processes; ++i) {
    std::vector<std::string> args{"worker", "--namespace", "bench", "--concurrency",
                                  std::to_string(dep.worker_concurrency)};
    if (dep.worker_batch > 0)
      args.insert(args.end(), {"--batch-size", std::to_string(dep.worker_batch)});
    for (auto& a : config_args(dep, database_url(server_url, db, worker_app)))
      args.push_back(a);
    args.insert(args.end(), {"--set", "telemetry.logging.level=info", "--set",
                             "telemetry.http.enabled=false"});
    auto log = dep.log_dir + "/" + label + "-worker-" + std::to_string(i) + ".log";
    ps.workers.push_back(std::make_unique<child_process>(dep.node_binary, args, no_extra_env, log));
    if (!ps.workers.back()->wait_for_output("worker: namespace", 60s))
      throw std::runtime_error("worker did not start; see " + log);
  }
}

/// The settings a node of `setup` runs with: the setup's, then --node-set's.
std::vector<std::string> applied_sets(const deployment& dep, const node_setup& setup) {
  auto out = setup.sets;
  if (!setup.naive)
    out.insert(out.end(), dep.node_sets.begin(), dep.node_sets.end());
  return out;
}

void start_node(processes& ps, const deployment& dep, const node_setup& setup,
                const std::string& db, const std::string& server_url) {
  std::vector<std::string> args{"run", "--node-id", "bench-" + setup.label};
  for (auto& a : config_args(dep, database_url(server_url, db, node_app)))
    args.push_back(a);
  for (auto& s : applied_sets(dep, setup))
    args.insert(args.end(), {"--set", s});
  if (setup.naive)
    args.push_back("--naive");
  auto log = dep.log_dir + "/" + setup.label + "-node.log";
  ps.node = std::make_unique<child_process>(dep.node_binary, args, no_extra_env, log);
  if (!ps.node->wait_for_output("running", 120s))
    throw std::runtime_error("node did not start; see " + log + ":\n" + ps.node->output());
}

/// Log lines of the coordinator's scaling decisions (scale up / scale down).
nlohmann::json scaling_lines(const std::string& log) {
  // "coordinator: scale_up <pool>: +1"; not scale_up_refused or scale_up_held.
  static const std::regex pattern{R"(coordinator: scale_(up|down) )"};
  nlohmann::json lines = nlohmann::json::array();
  std::istringstream in{log};
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, pattern))
      lines.push_back(line);
  return lines;
}

std::int64_t count_in_state(pqxx::connection& conn, const std::string& state) {
  return scalar(conn, "SELECT count(*) FROM tasks WHERE current_state = '" + state + "'");
}

/// Complete and errored tasks in one scan of the tasks table.
std::pair<std::int64_t, std::int64_t> complete_and_failed(pqxx::connection& conn) {
  pqxx::nontransaction tx{conn};
  auto row = tx.exec1("SELECT count(*) FILTER (WHERE current_state = 'complete'),"
                      " count(*) FILTER (WHERE current_state = 'error') FROM tasks");
  return {row[0].as<std::int64_t>(), row[1].as<std::int64_t>()};
}

/// Polls until `expected` tasks are complete, printing progress; throws on
/// errored tasks, a dead node or worker, or the timeout. The figures come from the
/// transition history, so the poll only needs to be frequent enough to stop
/// the run: twice a second keeps the observer's own queries out of the way.
void wait_complete(pqxx::connection& conn, processes& ps, const deployment& dep,
                   const std::string& label, std::int64_t expected,
                   std::chrono::system_clock::time_point t0) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{dep.timeout_seconds};
  auto next_print = std::chrono::steady_clock::now();
  while (true) {
    auto [done, failed] = complete_and_failed(conn);
    auto now = std::chrono::steady_clock::now();
    if (done >= expected || now >= next_print) {
      double elapsed = std::chrono::duration<double>(std::chrono::system_clock::now() - t0).count();
      std::printf("  [%s] %lld/%lld tasks complete, %.1f s, %.0f tasks/s\n", label.c_str(),
                  static_cast<long long>(done), static_cast<long long>(expected), elapsed,
                  elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0);
      std::fflush(stdout);
      next_print = now + 2s;
    }
    if (done >= expected)
      return;
    if (failed > 0)
      throw std::runtime_error(label + ": " + std::to_string(failed) + " tasks in error");
    if (!ps.node->running())
      throw std::runtime_error(label + ": the node exited:\n" + ps.node->output());
    for (auto& w : ps.workers)
      if (!w->running())
        throw std::runtime_error(label + ": a worker exited:\n" + w->output());
    if (now >= deadline)
      throw std::runtime_error(label + ": not complete after " +
                               std::to_string(dep.timeout_seconds) + " s");
    std::this_thread::sleep_for(500ms);
  }
}

std::vector<std::string> common_sets() {
  return {"telemetry.logging.level=info", "telemetry.http.enabled=false",
          "telemetry.inspector.enabled=false"};
}

constexpr const char* pool_names[] = {"task_request_processor", "task_claimer", "step_enqueuer",
                                      "step_result_processor", "task_finalizer"};

// Every pool's batch_size, and max_batch_size with it (batches of that size,
// no growth), unless 0 (the shipped per-pool values, growth included).
void add_batch_sets(node_setup& s, int batch_size) {
  if (batch_size <= 0)
    return;
  for (auto pool : pool_names)
    for (auto key : {".batch_size=", ".max_batch_size="})
      s.sets.push_back(std::string{"executor_pools."} + pool + key + std::to_string(batch_size));
}

} // namespace

node_setup auto_scaling_setup(int batch_size) {
  node_setup s;
  s.label = "coordinator";
  s.pool_max = 40;
  s.reserved = 5;
  s.sets = common_sets();
  s.sets.insert(s.sets.end(),
                {"database.pool.max_connections=40", "database.pool.reserved_connections=5",
                 "executor_pools.coordinator.auto_scaling_enabled=true",
                 "executor_pools.coordinator.scaling_interval_seconds=1",
                 "executor_pools.coordinator.scaling_cooldown_seconds=2",
                 "executor_pools.task_request_processor.max_executors=4",
                 "executor_pools.task_claimer.max_executors=6",
                 "executor_pools.step_enqueuer.max_executors=6",
                 "executor_pools.step_result_processor.max_executors=8",
                 "executor_pools.task_finalizer.max_executors=4"});
  add_batch_sets(s, batch_size);
  return s;
}

node_setup naive_setup() {
  node_setup s;
  s.label = "naive";
  s.naive = true;
  s.sets = common_sets();
  return s;
}

node_setup fixed_setup(int executors, int batch_size) {
  node_setup s;
  s.label = "fixed" + std::to_string(executors);
  s.reserved = 5;
  s.pool_max = 5 * executors + s.reserved;
  s.sets = common_sets();
  s.sets.push_back("executor_pools.coordinator.auto_scaling_enabled=false");
  s.sets.push_back("database.pool.max_connections=" + std::to_string(s.pool_max));
  s.sets.push_back("database.pool.reserved_connections=" + std::to_string(s.reserved));
  for (auto pool : pool_names) {
    s.sets.push_back(std::string{"executor_pools."} + pool
                     + ".min_executors=" + std::to_string(executors));
    s.sets.push_back(std::string{"executor_pools."} + pool
                     + ".max_executors=" + std::to_string(executors));
  }
  add_batch_sets(s, batch_size);
  return s;
}

nlohmann::json run_burndown(server& srv, const deployment& dep, const node_setup& setup,
                            const std::string& name, std::int64_t count, int steps_per_task) {
  auto db = "tasker_bench_" + setup.label + "_" + name;
  auto url = srv.fresh_database(db);
  pqxx::connection conn{url};
  auto submit_start = std::chrono::steady_clock::now();
  submit_requests(conn, name, count);
  double submit_s =
    std::chrono::duration<double>(std::chrono::steady_clock::now() - submit_start).count();
  std::printf("  [%s] %lld %s task requests queued in %.2f s (not timed)\n", setup.label.c_str(),
              static_cast<long long>(count), name.c_str(), submit_s);
  processes ps;
  start_workers(ps, dep, db, srv.url(), setup.label + "-" + name);
  connection_sampler sampler{srv.url(), db, node_app};
  start_node(ps, dep, setup, db, srv.url());
  auto t0 = std::chrono::system_clock::now();
  double node_cpu0 = ps.node->cpu_seconds();
  double worker_cpu0 = ps.worker_cpu();
  double machine_cpu0 = machine_busy_seconds();
  wait_complete(conn, ps, dep, setup.label, count, t0);
  double machine_cpu = machine_busy_seconds() - machine_cpu0;
  double t_first_created = number(conn, "SELECT extract(epoch FROM min(created_at)) FROM tasks");
  double t_first_complete = 0.0, t_end = 0.0;
  {
    // The first and the last completion, in one scan of the history.
    pqxx::nontransaction tx{conn};
    auto row = tx.exec1("SELECT extract(epoch FROM min(created_at)),"
                        " extract(epoch FROM max(created_at))"
                        " FROM task_transitions WHERE to_state = 'complete'");
    if (!row[0].is_null()) {
      t_first_complete = row[0].as<double>();
      t_end = row[1].as<double>();
    }
  }
  double node_cpu = ps.node->cpu_seconds() - node_cpu0;
  double worker_cpu = ps.worker_cpu() - worker_cpu0;
  ps.stop();
  // From the readiness line, or from the first task's creation when that came
  // first: the node starts its pools just before it prints the line, and the
  // line is seen up to one poll of the log later.
  double seconds = t_end - std::min(epoch_seconds(t0), t_first_created);
  auto steps = count * steps_per_task;
  const auto node_log = ps.node->output();
  auto lines = scaling_lines(node_log);
  // The broker's own high-water mark, from its line at the node's shutdown.
  auto broker = broker_peak_from_log(node_log);
  nlohmann::json out{{"mode", setup.label},
                     {"template", name},
                     {"tasks", count},
                     {"steps", steps},
                     {"seconds", seconds},
                     {"first_task_created_seconds", t_first_created - epoch_seconds(t0)},
                     {"first_task_complete_seconds", t_first_complete - epoch_seconds(t0)},
                     {"tasks_per_second", static_cast<double>(count) / seconds},
                     {"steps_per_second", static_cast<double>(steps) / seconds},
                     {"node_cpu_seconds", node_cpu},
                     {"worker_cpu_seconds", worker_cpu},
                     {"machine_cpu_seconds", machine_cpu},
                     {"machine_cpu_ms_per_task", 1000.0 * machine_cpu / static_cast<double>(count)},
                     {"peak_node_connections", sampler.peak_total()},
                     {"peak_node_connections_busy", sampler.peak_busy()},
                     {"connection_samples", sampler.samples()},
                     {"peak_broker_leases", broker ? nlohmann::json(broker->peak) : nullptr},
                     {"broker_connections", broker ? nlohmann::json(broker->size) : nullptr},
                     {"pool_max_connections", setup.pool_max},
                     {"executor_budget", setup.pool_max - setup.reserved},
                     {"scaling_events", lines.size()},
                     {"scaling_log", lines},
                     {"node_settings", applied_sets(dep, setup)}};
  conn.disconnect();
  if (!dep.keep_databases)
    srv.drop_database(db);
  return out;
}

nlohmann::json run_latency(server& srv, const deployment& dep, const node_setup& setup,
                           double rate, double seconds) {
  auto db = "tasker_bench_latency";
  auto url = srv.fresh_database(db);
  pqxx::connection conn{url};
  processes ps;
  start_workers(ps, dep, db, srv.url(), "latency");
  auto lat_setup = setup;
  lat_setup.label = "latency";
  start_node(ps, dep, lat_setup, db, srv.url());
  std::this_thread::sleep_for(2s); // let the pools settle before the first request
  auto total = static_cast<std::int64_t>(rate * seconds);
  auto start = std::chrono::steady_clock::now();
  auto period = std::chrono::duration<double>(1.0 / rate);
  auto t0 = std::chrono::system_clock::now();
  for (std::int64_t i = 0; i < total; ++i) {
    std::this_thread::sleep_until(
      start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(period * i));
    messaging::task_request req;
    char id[64];
    std::snprintf(id, sizeof id, "00000000-0000-4000-9000-%012lld", static_cast<long long>(i));
    req.request_id = id;
    req.namespace_name = "bench";
    req.task_name = "linear4";
    req.task_version = "1.0.0";
    auto submitted = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    req.context = {{"n", i}, {"submitted_us", submitted}};
    req.initiator = "tasker-bench";
    req.reason = "latency";
    {
      // One statement, a transaction of its own (as a client sending one
      // request needs no BEGIN and COMMIT round trips); it commits with the
      // WAL flush before it returns.
      pqxx::nontransaction tx{conn};
      messaging::queue_client::send(tx, "orchestration_task_requests", req.to_json());
    }
    if ((i + 1) % static_cast<std::int64_t>(rate * 5) == 0) {
      std::printf("  [latency] %lld/%lld submitted, %lld complete\n",
                  static_cast<long long>(i + 1), static_cast<long long>(total),
                  static_cast<long long>(count_in_state(conn, "complete")));
      std::fflush(stdout);
    }
  }
  wait_complete(conn, ps, dep, "latency", total, t0);
  ps.stop();
  std::vector<double> client_ms, server_ms;
  // A task is complete when the transaction that completed it commits: its
  // commit timestamp, which the server records with track_commit_timestamp
  // on (the bench's own cluster has it). Without it, the transaction's start
  // (the transition's created_at) is all there is, earlier by that
  // transaction's length.
  const bool committed = srv.commit_timestamps();
  {
    pqxx::nontransaction tx{conn};
    const std::string done = committed ? "pg_xact_commit_timestamp(tr.xmin)" : "tr.created_at";
    auto rows = tx.exec(
      "SELECT (extract(epoch FROM " + done + ") * 1e6 - (t.context->>'submitted_us')::float8) "
      "/ 1e3, extract(epoch FROM " + done + " - t.created_at) * 1e3 "
      "FROM tasks t JOIN task_transitions tr ON tr.task_uuid = t.task_uuid "
      "AND tr.to_state = 'complete'");
    for (const auto& row : rows) {
      client_ms.push_back(row[0].as<double>());
      server_ms.push_back(row[1].as<double>());
    }
  }
  nlohmann::json out{{"rate_per_second", rate},
                     {"seconds", seconds},
                     {"tasks", total},
                     {"complete_at", committed ? "commit" : "transaction_start"},
                     {"submit_to_complete_ms", percentiles(client_ms)},
                     {"created_to_complete_ms", percentiles(server_ms)},
                     {"node_settings", applied_sets(dep, lat_setup)}};
  conn.disconnect();
  if (!dep.keep_databases)
    srv.drop_database(db);
  return out;
}

} // namespace tasker::bench
