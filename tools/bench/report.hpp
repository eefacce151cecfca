#pragma once
/// The human-readable side of the results: the server's durability settings
/// and the final table with the targets, each marked met or not met.

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>

namespace tasker::bench {

/// "machine speed: reference loop N ms before the scenarios, M ms after
/// (lower is faster)" from results["machine"] (server::reference_speed), or
/// empty when the run has no reference time.
std::string reference_line(const nlohmann::json& machine);

/// Prints the PostgreSQL version and durability settings in `results`, and
/// the machine's reference time when measured.
void print_settings(const nlohmann::json& results);

/// Prints every measured figure of `results` and its target.
void print_table(const nlohmann::json& results, std::ostream& out);

} // namespace tasker::bench
