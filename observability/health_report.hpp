#pragma once
/// The JSON answers of the health endpoints, built from one observation.
/// Pure functions: no actor, socket or database is touched here.
///
/// Orchestration status:
///   unhealthy  the coordinator does not answer or is shutting down, a pool
///              failed (restart intensity exceeded), or a pool that must run
///              executors has none starting or working;
///   degraded   a pool has fewer healthy executors than its minimum, an
///              executor is degraded or unhealthy, a circuit breaker is not
///              closed, a pool is paused by an operator, or backpressure is
///              engaged;
///   healthy    otherwise.
/// Endpoints answer 200 unless the status is unhealthy (503).

#include "messaging/messages.hpp"
#include "observability/node_info.hpp"
#include "observability/snapshot_cache.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace tasker::observability {

/// An HTTP answer: status code and JSON body.
struct health_response {
  /// The HTTP status code (200 or 503).
  int status = 200;
  /// The body.
  nlohmann::json body;
};

/// The three levels of an aggregated status.
enum class health_level { healthy, degraded, unhealthy };

/// Lower-case name of `x`, as it appears in the JSON.
std::string to_string(health_level x);

/// A status with the sentences that explain it (empty when healthy).
struct health_verdict {
  /// The level.
  health_level level = health_level::healthy;
  /// One sentence per finding, naming the pool or component.
  std::vector<std::string> reasons;

  /// Raises the level to `at_least` and records `reason`.
  void raise(health_level at_least, std::string reason);
};

/// Executors of one pool by state, and its worst circuit breaker.
struct pool_counts {
  std::uint32_t starting = 0;  ///< no heartbeat yet
  std::uint32_t healthy = 0;   ///< heartbeating and healthy
  std::uint32_t degraded = 0;  ///< heartbeating, error rate too high
  std::uint32_t unhealthy = 0; ///< stale heartbeat or self-reported unhealthy
  std::uint32_t stopping = 0;  ///< draining
  /// open if any executor's breaker is open, else half_open if any is, else closed.
  messaging::breaker_state breaker = messaging::breaker_state::closed;
};

/// Counts the executors of `pool` in `snapshot`.
pool_counts count_pool(const messaging::coordinator_snapshot& snapshot, const std::string& pool);

/// The orchestration status of `snapshot` (see the file comment).
health_verdict orchestration_verdict(const messaging::coordinator_snapshot& snapshot);

/// `GET /health/live`: 200 `{"status":"alive"}`.
health_response liveness();

/// `GET /health/ready`: 200 when migrated, the broker is connected, the
/// coordinator answers and every pool has at least its minimum of healthy
/// executors; otherwise 503 naming each failed check.
health_response readiness(const observation& obs, bool migrated, bool broker_connected);

/// `GET /health/orchestration`: status, coordinator, executor_pools,
/// database, plus the recent runtime events for the status page.
health_response orchestration_health(const observation& obs, const node_info& info);

/// `GET /health/orchestration/resources`: status, system_limits,
/// current_utilization and resource_budget.
health_response resource_health(const observation& obs, const node_info& info);

} // namespace tasker::observability
