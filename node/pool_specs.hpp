#pragma once
/// The coordinator's options as the configuration describes them: one pool
/// per executor type (sizes, poll interval, batch size, breaker, weight,
/// processing timeout, recycling), the timers and the scaling policy. Kept
/// apart from the node so the mapping is checked without a database.

#include "actors/executor.hpp"
#include "config/tasker_config.hpp"
#include "coordinator/coordinator_actor.hpp"

#include <cstddef>
#include <string>

namespace tasker::node {

/// The queue whose depth drives the pool of `type` (empty: none). Task
/// requests feed the task request processor, step results the step result
/// processor; the other pools work on rows, not queues.
std::string scaling_queue(config::executor_type type, const config::tasker_config& cfg);

/// The coordinator options for `cfg`: every pool spawns detached executors
/// over `actors::make_processor(type, cfg, node_id)`; `executor_budget` is
/// the broker's size; `faults` is the test-only crash injection every
/// executor gets (off by default).
coordinator::coordinator_options make_coordinator_options(const config::tasker_config& cfg,
                                                          const std::string& node_id,
                                                          std::size_t executor_budget,
                                                          const actors::fault_injection& faults
                                                          = {});

} // namespace tasker::node
