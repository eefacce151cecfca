#pragma once
/// The human-readable side of the results: the server's durability settings
/// and the final table with the targets, each marked met or not met; and the
/// broker's figures read from a node's log.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
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

/// What the node's broker reported when it closed, from the node's log line
/// "coordinator: broker_closed: N lease(s) still out; at most P of S
/// connections leased at once": P (`peak`) and S (`size`); nothing when the
/// log holds no such line (the node did not shut down cleanly).
struct broker_peak {
  std::int64_t peak = 0;
  std::int64_t size = 0;
};
std::optional<broker_peak> broker_peak_from_log(const std::string& node_log);

} // namespace tasker::bench
