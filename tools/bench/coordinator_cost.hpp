#pragma once
/// The coordinator's own cost: the real coordinator actor (with its real
/// pools) supervising N lightweight executors that only heartbeat and report
/// metrics once a second, in this process. CPU time of the whole process is
/// measured over a window, once with the coordinator and once with the same
/// executors heartbeating to a sink that ignores them; the difference is the
/// coordinator's cost.

#include <nlohmann/json.hpp>

#include <cstddef>

namespace tasker::bench {

/// Runs both phases for `seconds` each after `warmup` seconds; JSON with
/// cpu_percent_of_one_core for each phase and their difference.
nlohmann::json run_coordinator_cost(std::size_t executors, double seconds, double warmup);

} // namespace tasker::bench
