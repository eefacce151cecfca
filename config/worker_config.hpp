#pragma once
/// The configuration a step worker needs (and nothing orchestration-only):
/// the database, the queues with their shared names, and circuit-breaker
/// defaults. `taskerctl config export-worker` writes it; a worker in any
/// language reads the same TOML.

#include "config/loader.hpp"
#include "config/tasker_config.hpp"

#include <filesystem>
#include <string_view>
#include <vector>

namespace tasker::config {

/// Everything a step worker reads from configuration.
struct worker_config {
  database_config database;         ///< `[database]` (pool.reserved_connections is node-only)
  queues_config queues;             ///< `[queues]` and `[queues.names]`
  breaker_settings circuit_breaker; ///< `[circuit_breakers.defaults]`
  bool operator==(const worker_config&) const = default;
};

/// True when `path` (a key or a table) belongs to the worker subset.
bool is_worker_key(std::string_view path);

/// The worker subset of a node configuration.
worker_config worker_subset(const tasker_config& config);

/// Writes the worker subset of `node` into `out_dir` as database.toml,
/// queues.toml, queue_names.toml and circuit_breakers.toml. The database URL
/// is left out so no password lands on disk: workers read TASKER_DATABASE_URL.
/// Returns the files written.
std::vector<std::filesystem::path> export_worker_config(const loaded_config& node,
                                                        const std::filesystem::path& out_dir);

/// Loads every `*.toml` in `dir`, then TASKER_DATABASE_URL and the
/// TASKER_<KEY> variables of worker keys from `variables`. Throws
/// config_error naming file and key for unknown keys (including every
/// orchestration-only key), wrong types and out-of-range values.
worker_config load_worker_config(const std::filesystem::path& dir,
                                 const env_map& variables = process_environment());

} // namespace tasker::config
