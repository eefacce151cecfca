#include "observability/health_report.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace tasker::observability {

using messaging::breaker_state;
using messaging::coordinator_snapshot;
using messaging::executor_state;
using nlohmann::json;

namespace {

double seconds(caf::timespan d) {
  return std::chrono::duration<double>(d).count();
}

double unit_interval(double x) {
  return std::isfinite(x) ? std::clamp(x, 0.0, 1.0) : 0.0;
}

int code_of(health_level level) {
  return level == health_level::unhealthy ? 503 : 200;
}

int breaker_rank(breaker_state x) {
  switch (x) {
  case breaker_state::closed:
    return 0;
  case breaker_state::half_open:
    return 1;
  case breaker_state::open:
    return 2;
  }
  return 2;
}

json unreachable_coordinator(const observation& obs) {
  return json{{"running", false}, {"uptime_seconds", 0}, {"error", obs.error}};
}

} // namespace

std::string to_string(health_level x) {
  switch (x) {
  case health_level::healthy:
    return "healthy";
  case health_level::degraded:
    return "degraded";
  case health_level::unhealthy:
    return "unhealthy";
  }
  return "unhealthy";
}

void health_verdict::raise(health_level at_least, std::string reason) {
  level = std::max(level, at_least);
  reasons.push_back(std::move(reason));
}

pool_counts count_pool(const coordinator_snapshot& snapshot, const std::string& pool) {
  pool_counts out;
  for (auto& e : snapshot.executors) {
    if (e.pool != pool)
      continue;
    switch (e.state) {
    case executor_state::starting:
      ++out.starting;
      break;
    case executor_state::healthy:
      ++out.healthy;
      break;
    case executor_state::degraded:
      ++out.degraded;
      break;
    case executor_state::unhealthy:
      ++out.unhealthy;
      break;
    case executor_state::stopping:
      ++out.stopping;
      break;
    }
    if (breaker_rank(e.breaker) > breaker_rank(out.breaker))
      out.breaker = e.breaker;
  }
  return out;
}

health_verdict orchestration_verdict(const coordinator_snapshot& s) {
  health_verdict v;
  if (s.shutting_down)
    v.raise(health_level::unhealthy, "the coordinator is shutting down");
  for (auto& pool : s.pools) {
    auto c = count_pool(s, pool.name);
    if (pool.failed) {
      v.raise(health_level::unhealthy, pool.name + ": pool failed (restart intensity exceeded)");
      continue;
    }
    if (pool.min > 0 && c.starting + c.healthy + c.degraded == 0)
      v.raise(health_level::unhealthy, pool.name + ": no executor starting or working");
    else if (c.healthy < pool.min)
      v.raise(health_level::degraded, pool.name + ": " + std::to_string(c.healthy) + " of " +
                                          std::to_string(pool.min) + " minimum healthy executors");
    if (c.degraded + c.unhealthy > 0)
      v.raise(health_level::degraded, pool.name + ": " + std::to_string(c.degraded) +
                                          " degraded, " + std::to_string(c.unhealthy) +
                                          " unhealthy executor(s)");
    if (pool.paused)
      v.raise(health_level::degraded, pool.name + ": paused by an operator");
    if (c.breaker != breaker_state::closed)
      v.raise(health_level::degraded,
              pool.name + ": circuit breaker " + messaging::to_string(c.breaker));
  }
  if (s.backpressure < 1.0)
    v.raise(health_level::degraded,
            "backpressure engaged (factor " + std::to_string(s.backpressure) + ")");
  return v;
}

health_response liveness() {
  return {200, json{{"status", "alive"}}};
}

health_response readiness(const observation& obs, bool migrated, bool broker_connected) {
  json checks = json::object();
  std::vector<std::string> failed;
  auto check = [&](const std::string& name, bool ok, std::string detail) {
    checks[name] = json{{"ok", ok}, {"detail", std::move(detail)}};
    if (!ok)
      failed.push_back(name);
  };
  check("migrated", migrated, migrated ? "schema at the latest migration" : "schema not migrated");
  check("broker_connected", broker_connected,
        broker_connected ? "database connections open" : "connection broker not connected");
  if (!obs.snapshot) {
    check("coordinator", false, "coordinator not answering: " + obs.error);
  } else {
    auto& s = *obs.snapshot;
    check("coordinator", !s.shutting_down,
          s.shutting_down ? "coordinator shutting down" : "coordinator answering");
    std::vector<std::string> short_pools;
    for (auto& pool : s.pools) {
      auto healthy = count_pool(s, pool.name).healthy;
      if (pool.failed || healthy < pool.min)
        short_pools.push_back(pool.name + ": " + std::to_string(healthy) + " of " +
                              std::to_string(pool.min) + " minimum healthy executors" +
                              (pool.failed ? " (pool failed)" : ""));
    }
    std::string detail;
    for (auto& line : short_pools)
      detail += (detail.empty() ? "" : "; ") + line;
    check("pools", short_pools.empty(),
          short_pools.empty() ? "every pool at its minimum healthy executors" : detail);
  }
  bool ready = failed.empty();
  return {ready ? 200 : 503,
          json{{"status", ready ? "ready" : "not_ready"}, {"checks", checks}, {"failed", failed}}};
}

health_response orchestration_health(const observation& obs, const node_info& info) {
  json body;
  body["node_id"] = info.node_id;
  if (!obs.snapshot) {
    body["status"] = to_string(health_level::unhealthy);
    body["reasons"] = json::array({"coordinator not answering: " + obs.error});
    body["coordinator"] = unreachable_coordinator(obs);
    body["executor_pools"] = json::object();
    body["database"] = json{{"pool_size", 0}, {"active_connections", 0}, {"saturation", 0.0}};
    body["events"] = json::array();
    return {503, body};
  }
  auto& s = *obs.snapshot;
  auto verdict = orchestration_verdict(s);
  body["status"] = to_string(verdict.level);
  body["reasons"] = verdict.reasons;
  body["coordinator"] = json{
      {"running", !s.shutting_down},
      {"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(s.uptime).count()},
      {"shutting_down", s.shutting_down},
      {"backpressure_factor", s.backpressure},
      {"backpressure_events", s.backpressure_events},
      {"items_processed", s.items},
      {"errors", s.errors},
      {"utilization", unit_interval(s.utilization)},
  };
  json pools = json::object();
  for (auto& pool : s.pools) {
    auto c = count_pool(s, pool.name);
    auto tp = obs.throughput.find(pool.name);
    pools[pool.name] = json{
        {"healthy", c.healthy},
        {"unhealthy", c.unhealthy},
        {"degraded", c.degraded},
        {"starting", c.starting},
        {"stopping", c.stopping},
        {"throughput", tp == obs.throughput.end() ? 0.0 : tp->second},
        {"executors", pool.executors},
        {"min", pool.min},
        {"max", pool.max},
        {"utilization", unit_interval(pool.utilization)},
        {"queue_depth", pool.queue_depth},
        {"breaker", messaging::to_string(c.breaker)},
        {"failed", pool.failed},
        {"paused", pool.paused},
        {"manual", pool.manual},
        {"target", pool.target},
        {"items_processed", pool.items},
        {"errors", pool.errors},
        {"scale_ups", pool.scale_ups},
        {"scale_downs", pool.scale_downs},
        {"refused_scale_ups", pool.refused_scale_ups},
    };
  }
  body["executor_pools"] = pools;
  body["database"] = json{
      {"pool_size", s.broker.size},
      {"active_connections", s.broker.leased},
      {"peak_active_connections", s.broker.peak_leased},
      {"waiting", s.broker.waiting},
      {"saturation", unit_interval(s.broker.saturation)},
  };
  json events = json::array();
  for (auto& e : s.events)
    events.push_back(json{
        {"at_seconds", seconds(e.at)}, {"kind", e.kind}, {"pool", e.pool}, {"detail", e.detail}});
  body["events"] = events;
  return {code_of(verdict.level), body};
}

health_response resource_health(const observation& obs, const node_info& info) {
  health_verdict v;
  const auto& budget = info.budget;
  int pool_size = info.detected.configured_pool_size > 0
                      ? info.detected.configured_pool_size
                      : info.config.database.pool.max_connections;
  std::uint64_t limit =
      budget.budget ? static_cast<std::uint64_t>(std::max(budget.budget->total_executor_limit, 0))
                    : 0;
  std::uint64_t allocated = 0, violations = 0, active = 0, used = 0;
  double saturation = 0.0;
  if (obs.snapshot) {
    auto& s = *obs.snapshot;
    limit = s.executor_limit;
    allocated = s.executors_allocated;
    violations = s.constraint_violations;
    active = s.executors.size();
    used = s.broker.leased;
    saturation = unit_interval(s.broker.saturation);
  } else {
    v.raise(health_level::unhealthy, "coordinator not answering: " + obs.error);
  }
  for (auto& error : budget.errors)
    v.raise(health_level::unhealthy, "budget: " + error);
  if (allocated > limit)
    v.raise(health_level::unhealthy, std::to_string(allocated) +
                                         " executors allocated over a "
                                         "budget of " +
                                         std::to_string(limit));
  auto max_usage = info.config.coordinator.max_db_pool_usage;
  if (saturation > max_usage)
    v.raise(health_level::degraded, "database saturation " + std::to_string(saturation) +
                                        " above " + std::to_string(max_usage));
  if (obs.snapshot && allocated >= limit && violations > 0)
    v.raise(health_level::degraded,
            "executor budget exhausted; " + std::to_string(violations) + " scale-up(s) refused");
  json limits{
      {"cpu_cores", info.detected.cpu_cores},
      {"database_max_connections", pool_size},
      {"max_total_executors", limit},
      {"reserved_connections", info.config.database.pool.reserved_connections},
  };
  if (info.detected.server)
    limits["server_max_connections"] = info.detected.server->max_connections;
  if (info.detected.available_memory_mb)
    limits["available_memory_mb"] = *info.detected.available_memory_mb;
  json body{
      {"status", to_string(v.level)},
      {"reasons", v.reasons},
      {"system_limits", limits},
      {"current_utilization", json{{"active_executors", active},
                                   {"database_connections_used", used},
                                   {"database_saturation", saturation},
                                   {"cpu_utilization", unit_interval(obs.cpu_utilization)},
                                   {"resident_memory_bytes", obs.resident_memory_bytes}}},
      {"resource_budget", json{{"allocated_executors", allocated},
                               {"remaining_capacity", limit > allocated ? limit - allocated : 0},
                               {"constraint_violations", violations},
                               {"warnings", budget.warnings}}},
  };
  return {code_of(v.level), body};
}

} // namespace tasker::observability
