#include "resources/budget.hpp"

#include <doctest/doctest.h>

using tasker::config::executor_type;
using tasker::config::tasker_config;
using namespace tasker::resources;

namespace {

/// The seed's production shape: 10+20+15+20+8 = 73 executors on a pool of 50.
tasker_config seventy_three_on_fifty() {
  tasker_config cfg;
  cfg.database.pool.max_connections = 50;
  cfg.database.pool.reserved_connections = 5;
  cfg.pools[executor_type::task_request_processor].max_executors = 10;
  cfg.pools[executor_type::task_claimer].max_executors = 20;
  cfg.pools[executor_type::step_enqueuer].max_executors = 15;
  cfg.pools[executor_type::step_result_processor].max_executors = 20;
  cfg.pools[executor_type::task_finalizer].max_executors = 8;
  return cfg;
}

} // namespace

TEST_CASE("seventy-three executors on a pool of fifty with five reserved are refused") {
  auto check = calculate_budget(seventy_three_on_fifty());
  REQUIRE_FALSE(check.ok());
  CHECK_FALSE(check.budget.has_value());
  REQUIRE(check.errors.size() == 1);
  CHECK(check.errors[0] ==
        "executor pools request 73 executors but only 45 database connections are available "
        "(pool 50, reserved 5)");
}

TEST_CASE("the default configuration fits its budget of pool minus reserved") {
  auto check = calculate_budget(tasker_config{});
  REQUIRE(check.ok());
  CHECK(check.budget->total_executor_limit == 20);
  CHECK(check.budget->requested_executors == tasker_config{}.total_max_executors());
  CHECK(check.budget->requested_executors <= 20);
}

TEST_CASE("a pool whose minimum exceeds its maximum is refused naming the pool") {
  tasker_config cfg;
  cfg.pools[executor_type::task_claimer].min_executors = 4;
  cfg.pools[executor_type::task_claimer].max_executors = 2;
  auto check = calculate_budget(cfg);
  REQUIRE_FALSE(check.ok());
  CHECK(check.errors[0].find("executor_pools.task_claimer") != std::string::npos);
}

TEST_CASE("a pool larger than the server can give is refused with the server's numbers") {
  tasker_config cfg;
  system_resources detected;
  detected.server = server_limits{30, 3, 10};
  auto check = calculate_budget(cfg, &detected);
  REQUIRE_FALSE(check.ok());
  CHECK(check.errors[0].find("max_connections 25 exceeds what the server can give: 17") !=
        std::string::npos);
}

TEST_CASE("disabling resource validation turns a budget violation into a warning") {
  auto cfg = seventy_three_on_fifty();
  cfg.coordinator.resource_validation_enabled = false;
  auto check = calculate_budget(cfg);
  CHECK(check.ok());
  REQUIRE_FALSE(check.warnings.empty());
  CHECK(check.warnings[0].find("73 executors") != std::string::npos);
}

TEST_CASE("planned pool use above eighty percent and scarce memory give warnings") {
  tasker_config cfg;
  cfg.database.pool.max_connections = 20;
  cfg.database.pool.reserved_connections = 5; // 13 executors + 5 = 18 of 20 = 90 %
  system_resources detected;
  detected.available_memory_mb = 100; // 13 executors plan 650 MB
  auto check = calculate_budget(cfg, &detected);
  REQUIRE(check.ok());
  REQUIRE(check.warnings.size() == 2);
  CHECK(check.warnings[0].find("90%") != std::string::npos);
  CHECK(check.warnings[1].find("650 MB") != std::string::npos);
}

TEST_CASE(
    "allocation refuses scale-ups beyond the pool maximum or the total limit and counts them") {
  resource_budget b;
  b.total_executor_limit = 5;
  b.pool_max = {{executor_type::task_claimer, 4}, {executor_type::step_enqueuer, 3}};
  executor_allocation alloc{b};
  CHECK(alloc.try_allocate(executor_type::task_claimer, 3));
  CHECK_FALSE(alloc.try_allocate(executor_type::task_claimer, 2)); // pool max 4
  CHECK(alloc.remaining(executor_type::step_enqueuer) == 2);       // total limit binds
  CHECK(alloc.try_allocate(executor_type::step_enqueuer, 2));
  CHECK_FALSE(alloc.try_allocate(executor_type::step_enqueuer)); // total 5 reached
  CHECK(alloc.violations() == 2);
  CHECK(alloc.remaining() == 0);
  alloc.release(executor_type::task_claimer, 10); // never below zero
  CHECK(alloc.allocated(executor_type::task_claimer) == 0);
  CHECK(alloc.allocated_total() == 2);
  CHECK(alloc.remaining(executor_type::task_claimer) == 3);
}
