#include "node/pool_specs.hpp"

#include "actors/executor.hpp"
#include "actors/processors/processors.hpp"
#include "observability/cpu_sampler.hpp"

#include <algorithm>
#include <chrono>
#include <memory>

namespace tasker::node {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

coordinator::health_settings health_of(const config::tasker_config& cfg,
                                       const config::pool_config& pool) {
  coordinator::health_settings out;
  const auto& orch = cfg.orchestration;
  auto beat = std::max(orch.heartbeat_interval_ms, 1);
  out.heartbeat_interval = milliseconds{beat};
  out.stale_after_intervals = static_cast<double>(orch.stale_heartbeat_ms) / beat;
  out.processing_timeout = milliseconds{pool.processing_timeout_ms};
  return out;
}

actors::executor_options executor_options_of(const config::tasker_config& cfg,
                                             config::executor_type type,
                                             const config::pool_config& pool) {
  actors::executor_options out;
  out.batch_size = static_cast<std::size_t>(std::max(pool.batch_size, 1));
  out.max_batch_size = static_cast<std::size_t>(std::max(pool.max_batch_size, 1));
  out.poll_interval = milliseconds{pool.polling_interval_ms};
  out.heartbeat_interval = milliseconds{cfg.orchestration.heartbeat_interval_ms};
  out.lease_timeout = seconds{cfg.database.pool.acquire_timeout_seconds};
  out.breaker_enabled = pool.circuit_breaker_enabled;
  auto breaker = cfg.circuit_breakers.for_executor(type, pool);
  out.breaker.failure_threshold = static_cast<std::uint32_t>(breaker.failure_threshold);
  out.breaker.open_timeout = seconds{breaker.timeout_seconds};
  out.breaker.success_threshold = static_cast<std::uint32_t>(breaker.success_threshold);
  out.health = health_of(cfg, pool);
  out.recycle.max_batches = static_cast<std::uint64_t>(
    std::max(cfg.orchestration.executor_recycle_batches, 0));
  out.recycle.max_lifetime = seconds{std::max(cfg.orchestration.executor_max_lifetime_seconds, 0)};
  return out;
}

} // namespace

std::string scaling_queue(config::executor_type type, const config::tasker_config& cfg) {
  switch (type) {
    case config::executor_type::task_request_processor: return cfg.queues.names.task_requests;
    case config::executor_type::step_result_processor: return cfg.queues.names.step_results;
    default: return {};
  }
}

coordinator::coordinator_options make_coordinator_options(const config::tasker_config& cfg,
                                                          const std::string& node_id,
                                                          std::size_t executor_budget,
                                                          const actors::fault_injection& faults) {
  coordinator::coordinator_options out;
  const auto& co = cfg.coordinator;
  auto drain = seconds{cfg.orchestration.drain_timeout_seconds};
  for (const auto& [type, pool] : cfg.pools) {
    coordinator::pool_spec spec;
    spec.options.name = std::string{config::to_string(type)};
    spec.options.min = static_cast<std::size_t>(std::max(pool.min_executors, 0));
    spec.options.max = static_cast<std::size_t>(std::max(pool.max_executors, pool.min_executors));
    spec.options.resource_weight = pool.resource_weight;
    spec.options.stop_timeout = drain;
    spec.options.detached = true;
    spec.queue = scaling_queue(type, cfg);
    // Each executor gets its own processor; the configuration is copied so a
    // factory outlives the node's copy.
    auto executor = executor_options_of(cfg, type, pool);
    executor.faults = faults;
    spec.factory = actors::make_executor_factory(
      std::move(executor),
      [type, cfg, node_id] { return actors::make_processor(type, cfg, node_id); });
    out.pools.push_back(std::move(spec));
  }
  out.health_interval = seconds{co.health_check_interval_seconds};
  out.scaling_interval = seconds{co.scaling_interval_seconds};
  // Two scaling intervals: long enough to smooth one slow batch, short
  // enough that a burst is seen by the next decision but one.
  out.utilization_window = seconds{2 * std::max(co.scaling_interval_seconds, 1)};
  out.auto_scaling = co.auto_scaling_enabled;
  out.scaling.target_utilization = co.target_utilization;
  out.scaling.scale_up_cpu_ceiling = co.scale_up_cpu_ceiling;
  out.host_cpu = [sampler = std::make_shared<observability::host_cpu_sampler>()] {
    return sampler->utilization();
  };
  out.scaling.scaling_interval = seconds{co.scaling_interval_seconds};
  out.scaling.cooldown = seconds{co.scaling_cooldown_seconds};
  if (!cfg.pools.empty())
    out.health = health_of(cfg, cfg.pools.begin()->second);
  out.backpressure.max_db_pool_usage = co.max_db_pool_usage;
  out.executor_budget = executor_budget;
  out.shutdown_timeout = drain;
  return out;
}

} // namespace tasker::node
