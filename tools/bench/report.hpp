#pragma once
/// The human-readable side of the results: the server's durability settings
/// and the final table with the targets, each marked met or not met.

#include <nlohmann/json.hpp>

#include <ostream>

namespace tasker::bench {

/// Prints the PostgreSQL version and durability settings in `results`.
void print_settings(const nlohmann::json& results);

/// Prints every measured figure of `results` and its target.
void print_table(const nlohmann::json& results, std::ostream& out);

} // namespace tasker::bench
