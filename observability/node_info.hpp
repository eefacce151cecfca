#pragma once
/// What the HTTP endpoints report about the node itself, fixed at start-up:
/// identity, configuration, detected resources and the budget check.

#include "config/tasker_config.hpp"
#include "resources/budget.hpp"
#include "resources/detection.hpp"

#include <chrono>
#include <string>

namespace tasker::observability {

/// The node's identity, configuration and start-up resource findings.
struct node_info {
  /// The node id (orchestration.node_id or hostname-pid).
  std::string node_id;
  /// When the node started; the coordinator's uptime is reported separately.
  std::chrono::system_clock::time_point started_at = std::chrono::system_clock::now();
  /// The configuration the node runs with.
  config::tasker_config config;
  /// What resource detection found at start-up.
  resources::system_resources detected;
  /// The executor budget check made at start-up.
  resources::budget_check budget;
  /// How long loading and validating the configuration took (exported as
  /// orchestration_component_config_load_time_seconds).
  std::chrono::duration<double> config_load_time{0};
};

} // namespace tasker::observability
