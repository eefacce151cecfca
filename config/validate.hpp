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

/// Every cross-key rule of a node configuration (database, queues, pools,
/// heartbeats, telemetry). The executor budget is checked by
/// `resources::calculate_budget`, which also knows the server's limits.
std::vector<std::string> validate(const tasker_config& config, const provenance& sources);

} // namespace tasker::config
