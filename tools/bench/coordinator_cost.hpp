#pragma once
/// The coordinator's own cost: the real coordinator actor (with its real
/// pools) supervising N lightweight executors that only heartbeat and report
/// metrics once a second, in this process. The coordinator runs detached, on
/// a thread of its own, and the CPU time of that thread over a window is its
/// cost.
/// Also measured, for comparison: CPU time of the whole process, once with
/// the coordinator and once with the same executors heartbeating to a sink
/// that ignores them (a difference whose noise, mostly the scheduler's idle
/// polling, is as large as the coordinator's cost). The two phases alternate
/// for several rounds and medians are reported.

#include <nlohmann/json.hpp>

#include <cstddef>

namespace tasker::bench {

/// Runs both phases for `seconds` each after `warmup` seconds, `rounds` times;
/// JSON with the median CPU % of one core of the coordinator's thread (and
/// every round's), of each phase's process and of their difference.
nlohmann::json run_coordinator_cost(std::size_t executors, double seconds, double warmup,
                                    std::size_t rounds);

} // namespace tasker::bench
