#pragma once
/// The executor budget: every executor holds one database connection, so the
/// executors of all pools together must fit into the connection pool minus
/// the connections reserved for the node itself. Pure functions and a small
/// tracker, no I/O: the coordinator asks the tracker before every scale-up.

#include "config/tasker_config.hpp"
#include "resources/detection.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tasker::resources {

/// Memory planned per executor when checking for memory pressure.
inline constexpr std::int64_t memory_per_executor_mb = 50;

/// Planned pool use (executors at their maximum plus reserved connections,
/// over the pool) above which a warning is given.
inline constexpr double planned_pool_use_warning = 0.80;

/// The limits the executors of a node live within.
struct resource_budget {
  int pool_size = 0;            ///< database.pool.max_connections
  int reserved_connections = 0; ///< kept for listeners, migrations, HTTP status, admin
  int total_executor_limit = 0; ///< pool_size - reserved_connections
  int requested_executors = 0;  ///< sum of max_executors over all pools
  std::map<config::executor_type, int> pool_max; ///< max_executors per pool
};

/// The outcome of a budget calculation.
struct budget_check {
  std::optional<resource_budget> budget; ///< set when there are no errors
  std::vector<std::string> errors;       ///< each names the numbers involved
  std::vector<std::string> warnings;     ///< memory pressure, high planned pool use

  /// True when the configuration fits.
  bool ok() const { return errors.empty(); }
};

/// Checks the executor pools of `config` against its pool and, when given,
/// against what `detected` says the server and machine can give. With
/// coordinator.resource_validation_enabled = false the violations are
/// reported as warnings instead of errors.
budget_check calculate_budget(const config::tasker_config& config,
                              const system_resources* detected = nullptr);

/// Tracks executors running per pool against a budget; refuses (and counts)
/// any allocation that would break the pool's max_executors or the total limit.
class executor_allocation {
public:
  /// Starts with nothing allocated.
  explicit executor_allocation(resource_budget budget);

  /// Takes `count` executors for `type` if both limits allow; otherwise takes
  /// nothing, counts one violation and returns false.
  bool try_allocate(config::executor_type type, int count = 1);

  /// Returns `count` executors of `type` (never below zero).
  void release(config::executor_type type, int count = 1);

  /// Executors allocated to `type`.
  int allocated(config::executor_type type) const;

  /// Executors allocated across all pools.
  int allocated_total() const { return total_; }

  /// Executors still available across all pools.
  int remaining() const { return budget_.total_executor_limit - total_; }

  /// Executors `type` could still take (its own max and the total both apply).
  int remaining(config::executor_type type) const;

  /// Allocations refused so far.
  std::uint64_t violations() const { return violations_; }

  /// The budget being tracked.
  const resource_budget& budget() const { return budget_; }

private:
  resource_budget budget_;
  std::map<config::executor_type, int> allocated_;
  int total_ = 0;
  std::uint64_t violations_ = 0;
};

} // namespace tasker::resources
