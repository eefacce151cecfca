#pragma once
/// Checks that involve more than one key (a single key's type and range are
/// checked while decoding). Each error names the keys and the files that set them.

#include "config/layers.hpp"
#include "config/tasker_config.hpp"

#include <string>
#include <vector>

namespace tasker::config {

/// `[database]`: pool bounds, reserved connections, URL shape.
std::vector<std::string> validate_database(const database_config& db, const provenance& sources);

/// `[queues]`: queue names are valid SQL identifiers and distinct.
std::vector<std::string> validate_queues(const queues_config& queues, const provenance& sources);

/// `[telemetry.inspector.tls]`: when enabled, a certificate, its key and a CA
/// file or directory are set and exist (relative paths are taken from the
/// working directory, as the node opens them).
std::vector<std::string> validate_inspector_tls(const inspector_tls_config& tls,
                                                const provenance& sources);

/// Every cross-key rule of a node configuration (database, queues, pools,
/// heartbeats, telemetry), including the executor budget: the pools' summed
/// max_executors must fit max_connections - reserved_connections unless
/// resource_validation_enabled is false. `resources::calculate_budget`
/// repeats that check and adds the server's limits.
std::vector<std::string> validate(const tasker_config& config, const provenance& sources);

} // namespace tasker::config
