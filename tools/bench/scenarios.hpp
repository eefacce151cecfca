#pragma once
/// The end-to-end scenarios: real `tasker-node run` and `tasker-node worker`
/// processes on a fresh database of the bench server, measured from outside
/// through PostgreSQL (task states, transition timestamps, pg_stat_activity).

#include "tools/bench/database.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tasker::bench {

/// How the processes under test are started.
struct deployment {
  std::string repo_root;   ///< source tree: config/ and tools/pg.sh
  std::string node_binary; ///< the built tasker-node
  std::string log_dir;     ///< one log file per process
  int worker_processes = 1;   ///< `tasker-node worker` processes
  int worker_concurrency = 4; ///< worker actors per process
  int worker_batch = 0;       ///< most messages a worker actor claims at once; 0 = its default
  int batch_size = 0;         ///< every pool's batch_size (and max) outside naive mode; 0 = shipped
  int timeout_seconds = 600;  ///< a scenario still running after this fails
  bool keep_databases = false; ///< leave each scenario's database for analysis
  std::vector<std::string> node_sets; ///< extra `--set key=value` for every node, outside naive mode
};

/// What the node is told beyond the common settings.
struct node_setup {
  std::string label;               ///< names the database and the logs
  bool naive = false;              ///< `--naive`
  std::vector<std::string> sets;   ///< `--set key=value` overrides
  std::int64_t pool_max = 25;      ///< database.pool.max_connections in force
  std::int64_t reserved = 5;       ///< database.pool.reserved_connections in force
};

/// The coordinator with auto-scaling: production-sized pool ceilings and a
/// one-second scaling tick so a run of seconds sees the scaler act.
node_setup auto_scaling_setup(int batch_size);

/// The `--naive` baseline (every pool pinned at one executor, batch size 1).
node_setup naive_setup();

/// Auto-scaling off, every pool fixed at `executors`, the database pool sized to fit.
node_setup fixed_setup(int executors, int batch_size);

/// Submits `count` tasks of template `name` (not timed), then starts the
/// node and the workers and times until every task is complete. JSON: tasks,
/// steps, seconds, tasks_per_second, steps_per_second, connections, scaling
/// events, CPU seconds of node and workers and of the whole machine
/// (machine_cpu_seconds, machine_cpu_ms_per_task).
nlohmann::json run_burndown(server& srv, const deployment& dep, const node_setup& setup,
                            const std::string& name, std::int64_t count, int steps_per_task);

/// Submits linear4 tasks at `rate` per second for `seconds` into a running
/// node; submit → complete latency percentiles in milliseconds.
nlohmann::json run_latency(server& srv, const deployment& dep, const node_setup& setup,
                           double rate, double seconds);

} // namespace tasker::bench
