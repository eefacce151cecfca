#include "config/tasker_config.hpp"

#include <numeric>
#include <unistd.h>

namespace tasker::config {

breaker_settings circuit_breakers_config::for_executor(executor_type type,
                                                       const pool_config& pool) const {
  breaker_settings result = defaults;
  result.failure_threshold = pool.circuit_breaker_threshold;
  if (auto it = executors.find(type); it != executors.end()) {
    if (it->second.timeout_seconds)
      result.timeout_seconds = *it->second.timeout_seconds;
    if (it->second.success_threshold)
      result.success_threshold = *it->second.success_threshold;
  }
  return result;
}

std::map<executor_type, breaker_override> circuit_breakers_config::no_overrides() {
  std::map<executor_type, breaker_override> out;
  for (auto type : all_executor_types)
    out.emplace(type, breaker_override{});
  return out;
}

std::map<executor_type, pool_config> tasker_config::default_pools() {
  // Seed values for polling, batch and breaker thresholds; max_executors kept
  // small enough that the five pools (13) fit the default budget of 25 - 5.
  auto pool = [](int min, int max, int poll, int batch, int threshold, double weight) {
    pool_config p;
    p.min_executors = min;
    p.max_executors = max;
    p.polling_interval_ms = poll;
    p.batch_size = batch;
    p.circuit_breaker_threshold = threshold;
    p.resource_weight = weight;
    return p;
  };
  return {
      {executor_type::task_request_processor, pool(1, 2, 100, 10, 5, 1.0)},
      {executor_type::task_claimer, pool(1, 3, 50, 20, 3, 1.5)},
      {executor_type::step_enqueuer, pool(1, 3, 50, 50, 5, 1.5)},
      {executor_type::step_result_processor, pool(1, 3, 100, 20, 3, 2.0)},
      {executor_type::task_finalizer, pool(1, 2, 100, 10, 3, 1.0)},
  };
}

int tasker_config::total_max_executors() const {
  return std::accumulate(pools.begin(), pools.end(), 0, [](int sum, const auto& entry) {
    return sum + entry.second.max_executors;
  });
}

std::string effective_node_id(const orchestration_config& orchestration) {
  if (!orchestration.node_id.empty())
    return orchestration.node_id;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0)
    host[0] = '\0';
  std::string name = host[0] != '\0' ? host : "node";
  return name + "-" + std::to_string(getpid());
}

} // namespace tasker::config
