#include "node/pool_specs.hpp"

#include "node/node.hpp"

#include <doctest/doctest.h>

using namespace tasker;

namespace {

const coordinator::pool_spec* find_pool(const coordinator::coordinator_options& opts,
                                        std::string_view name) {
  for (const auto& spec : opts.pools)
    if (spec.options.name == name)
      return &spec;
  return nullptr;
}

} // namespace

TEST_CASE("every executor type gets a pool sized from its configuration") {
  config::tasker_config cfg;
  cfg.pools[config::executor_type::task_claimer].min_executors = 2;
  cfg.pools[config::executor_type::task_claimer].max_executors = 5;
  cfg.pools[config::executor_type::task_claimer].resource_weight = 2.5;
  auto opts = node::make_coordinator_options(cfg, "n1", 7);
  CHECK(opts.pools.size() == config::all_executor_types.size());
  auto* claimer = find_pool(opts, "task_claimer");
  REQUIRE(claimer != nullptr);
  CHECK(claimer->options.min == 2);
  CHECK(claimer->options.max == 5);
  CHECK(claimer->options.resource_weight == doctest::Approx(2.5));
  CHECK(claimer->options.detached);
  CHECK(static_cast<bool>(claimer->factory));
  CHECK(opts.executor_budget == 7);
}

TEST_CASE("queue depth drives only the pools that drain a queue") {
  config::tasker_config cfg;
  auto opts = node::make_coordinator_options(cfg, "n1", 7);
  CHECK(find_pool(opts, "task_request_processor")->queue == "orchestration_task_requests");
  CHECK(find_pool(opts, "step_result_processor")->queue == "orchestration_step_results");
  CHECK(find_pool(opts, "task_claimer")->queue.empty());
  CHECK(find_pool(opts, "step_enqueuer")->queue.empty());
  CHECK(find_pool(opts, "task_finalizer")->queue.empty());
}

TEST_CASE("timers, scaling and the drain deadline come from the configuration") {
  config::tasker_config cfg;
  cfg.coordinator.health_check_interval_seconds = 3;
  cfg.coordinator.scaling_interval_seconds = 4;
  cfg.coordinator.scaling_cooldown_seconds = 9;
  cfg.coordinator.auto_scaling_enabled = false;
  cfg.orchestration.drain_timeout_seconds = 11;
  auto opts = node::make_coordinator_options(cfg, "n1", 7);
  CHECK(opts.health_interval == caf::timespan{std::chrono::seconds{3}});
  CHECK(opts.scaling_interval == caf::timespan{std::chrono::seconds{4}});
  CHECK(opts.scaling.cooldown == std::chrono::seconds{9});
  CHECK_FALSE(opts.auto_scaling);
  CHECK(opts.shutdown_timeout == caf::timespan{std::chrono::seconds{11}});
  CHECK(find_pool(opts, "task_finalizer")->options.stop_timeout
        == caf::timespan{std::chrono::seconds{11}});
}

TEST_CASE("naive mode runs one executor per type with batches of one and no scaling") {
  config::tasker_config cfg;
  auto naive = node::naive_config(cfg);
  CHECK_FALSE(naive.coordinator.auto_scaling_enabled);
  for (const auto& [type, pool] : naive.pools) {
    CHECK(pool.min_executors == 1);
    CHECK(pool.max_executors == 1);
    CHECK(pool.batch_size == 1);
    CHECK(pool.max_batch_size == 1); // no growth either
  }
}
