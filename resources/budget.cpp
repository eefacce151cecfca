#include "resources/budget.hpp"

#include <algorithm>
#include <cmath>

namespace tasker::resources {

using config::executor_type;

budget_check calculate_budget(const config::tasker_config& config,
                              const system_resources* detected) {
  budget_check out;
  resource_budget b;
  b.pool_size = config.database.pool.max_connections;
  b.reserved_connections = config.database.pool.reserved_connections;
  b.total_executor_limit = std::max(0, b.pool_size - b.reserved_connections);
  for (const auto& [type, pool] : config.pools) {
    b.pool_max[type] = pool.max_executors;
    b.requested_executors += pool.max_executors;
    if (pool.min_executors > pool.max_executors)
      out.errors.push_back("executor_pools." + std::string{to_string(type)} + ": min_executors " +
                           std::to_string(pool.min_executors) + " exceeds max_executors " +
                           std::to_string(pool.max_executors));
  }

  std::vector<std::string> violations;
  if (b.requested_executors > b.total_executor_limit)
    violations.push_back(
        "executor pools request " + std::to_string(b.requested_executors) + " executors but only " +
        std::to_string(b.total_executor_limit) + " database connections are available (pool " +
        std::to_string(b.pool_size) + ", reserved " + std::to_string(b.reserved_connections) + ")");
  if (detected != nullptr && detected->server) {
    const auto& s = *detected->server;
    if (b.pool_size > s.available())
      violations.push_back("database pool max_connections " + std::to_string(b.pool_size) +
                           " exceeds what the server can give: " + std::to_string(s.available()) +
                           " (max_connections " + std::to_string(s.max_connections) +
                           ", superuser_reserved_connections " +
                           std::to_string(s.superuser_reserved_connections) + ", " +
                           std::to_string(s.connections_in_use) + " in use)");
  }
  if (config.coordinator.resource_validation_enabled) {
    out.errors.insert(out.errors.end(), violations.begin(), violations.end());
  } else {
    for (auto& v : violations)
      out.warnings.push_back(v + " (ignored: resource_validation_enabled = false)");
  }

  if (b.pool_size > 0) {
    double use = static_cast<double>(b.requested_executors + b.reserved_connections) / b.pool_size;
    if (use > planned_pool_use_warning && b.requested_executors <= b.total_executor_limit)
      out.warnings.push_back(
          "executors at their maximum plus reserved connections plan to use " +
          std::to_string(static_cast<int>(std::lround(use * 100))) + "% of the database pool (" +
          std::to_string(b.requested_executors + b.reserved_connections) + " of " +
          std::to_string(b.pool_size) + "), above " +
          std::to_string(static_cast<int>(planned_pool_use_warning * 100)) + "%");
  }
  if (detected != nullptr && detected->available_memory_mb) {
    auto need = memory_per_executor_mb * b.requested_executors;
    if (*detected->available_memory_mb < need)
      out.warnings.push_back("available memory " + std::to_string(*detected->available_memory_mb) +
                             " MB is below the " + std::to_string(need) + " MB planned for " +
                             std::to_string(b.requested_executors) + " executors (" +
                             std::to_string(memory_per_executor_mb) + " MB each)");
  }
  if (out.errors.empty())
    out.budget = std::move(b);
  return out;
}

executor_allocation::executor_allocation(resource_budget budget) : budget_(std::move(budget)) {}

int executor_allocation::allocated(executor_type type) const {
  auto it = allocated_.find(type);
  return it == allocated_.end() ? 0 : it->second;
}

int executor_allocation::remaining(executor_type type) const {
  auto it = budget_.pool_max.find(type);
  int pool_left = (it == budget_.pool_max.end() ? 0 : it->second) - allocated(type);
  return std::max(0, std::min(pool_left, remaining()));
}

bool executor_allocation::try_allocate(executor_type type, int count) {
  if (count < 0 || count > remaining(type)) {
    ++violations_;
    return false;
  }
  allocated_[type] += count;
  total_ += count;
  return true;
}

void executor_allocation::release(executor_type type, int count) {
  int& held = allocated_[type];
  int returned = std::clamp(count, 0, held);
  held -= returned;
  total_ -= returned;
}

} // namespace tasker::resources
