#pragma once
/// The coordinator's own cost: the real coordinator actor (with its real
/// pools) supervising N lightweight executors that only heartbeat and report
/// metrics once a second, in this process. CPU time of the whole process is
/// measured over a window, once with the coordinator and once with the same
/// executors heartbeating to a sink that ignores them; the difference is the
/// coordinator's cost. The two phases alternate for several rounds and the
/// median difference is reported, since one window's noise is as large as the
/// cost being measured.

#include <nlohmann/json.hpp>

#include <cstddef>

namespace tasker::bench {

/// Runs both phases for `seconds` each after `warmup` seconds, `rounds` times;
/// JSON with the median CPU % of one core of each phase, the median of their
/// differences and every round's difference.
nlohmann::json run_coordinator_cost(std::size_t executors, double seconds, double warmup,
                                    std::size_t rounds);

} // namespace tasker::bench
