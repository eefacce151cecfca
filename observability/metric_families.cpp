#include "observability/metric_families.hpp"

#include "observability/health_report.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <string>

namespace tasker::observability {

using messaging::executor_state;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

using labels = std::vector<std::pair<std::string, std::string>>;

/// Collects families by name, keeping the order of first use.
class families {
public:
  void add(const std::string& name, MetricType type, const std::string& help, double value,
           const labels& ls = {}) {
    auto i = index_.find(name);
    if (i == index_.end()) {
      i = index_.emplace(name, out_.size()).first;
      out_.push_back(MetricFamily{name, help, type, {}});
    }
    ClientMetric m;
    for (auto& [k, v] : ls)
      m.label.push_back(ClientMetric::Label{k, v});
    if (!std::isfinite(value))
      value = 0.0;
    if (type == MetricType::Counter)
      m.counter.value = value;
    else
      m.gauge.value = value;
    out_[i->second].metric.push_back(std::move(m));
  }
  void gauge(const std::string& name, const std::string& help, double value,
             const labels& ls = {}) {
    add(name, MetricType::Gauge, help, value, ls);
  }
  void counter(const std::string& name, const std::string& help, double value,
               const labels& ls = {}) {
    add(name, MetricType::Counter, help, value, ls);
  }
  std::vector<MetricFamily> take() { return std::move(out_); }

private:
  std::map<std::string, std::size_t> index_;
  std::vector<MetricFamily> out_;
};

double ratio(double num, double den) {
  return den > 0 ? num / den : 0.0;
}

double secs(caf::timespan d) {
  return std::chrono::duration<double>(d).count();
}

constexpr executor_state all_states[] = {executor_state::starting, executor_state::healthy,
                                         executor_state::degraded, executor_state::unhealthy,
                                         executor_state::stopping};

void executor_series(families& f, const messaging::coordinator_snapshot& s) {
  for (auto& e : s.executors) {
    labels l{{"pool", e.pool}, {"executor", std::to_string(e.id)}};
    auto d = [](std::uint64_t x) { return static_cast<double>(x); };
    f.counter("orchestration_executor_items_processed_total",
              "Items processed by the executor since it started.", d(e.items), l);
    f.counter("orchestration_executor_errors_total", "Failed batches of the executor.", d(e.errors),
              l);
    f.counter("orchestration_executor_batches_total", "Batches run by the executor.", d(e.batches),
              l);
    f.gauge("orchestration_executor_error_rate", "Failed batches over batches run.",
            ratio(d(e.errors), d(e.batches)), l);
    f.gauge("orchestration_executor_utilization_ratio",
            "Busy time over wall time in the utilization window.", e.utilization, l);
    f.gauge("orchestration_executor_processing_time_seconds",
            "Mean batch duration over the executor's last report interval.",
            secs(e.mean_batch_latency), l);
    f.gauge("orchestration_executor_heartbeat_age_seconds",
            "Time since the executor's last heartbeat.", secs(e.since_heartbeat), l);
    f.gauge("orchestration_executor_mailbox_size",
            "Messages waiting in the executor's mailbox, as it last counted them.", d(e.mailbox),
            l);
    f.gauge("orchestration_executor_circuit_breaker_state",
            "The executor's circuit breaker: 0 closed, 1 half-open, 2 open.",
            breaker_value(e.breaker), l);
    for (auto st : all_states) {
      auto ls = l;
      ls.emplace_back("state", messaging::to_string(st));
      f.gauge("orchestration_executor_health_state",
              "1 for the executor's current health state, 0 for the others.",
              e.state == st ? 1.0 : 0.0, ls);
    }
  }
}

void pool_series(families& f, const observation& obs) {
  auto& s = *obs.snapshot;
  for (auto& p : s.pools) {
    labels l{{"pool", p.name}};
    auto c = count_pool(s, p.name);
    double batches = 0;
    for (auto& e : s.executors)
      if (e.pool == p.name)
        batches += static_cast<double>(e.batches);
    auto tp = obs.throughput.find(p.name);
    f.counter("orchestration_pool_items_processed_total", "Items processed by the pool.",
              static_cast<double>(p.items), l);
    f.counter("orchestration_pool_errors_total", "Failed batches in the pool.",
              static_cast<double>(p.errors), l);
    f.gauge("orchestration_pool_throughput_items_per_second",
            "Items per second over the throughput window.",
            tp == obs.throughput.end() ? 0.0 : tp->second, l);
    f.gauge("orchestration_pool_error_rate",
            "Failed batches over batches run by the pool's current executors.",
            ratio(static_cast<double>(p.errors), batches), l);
    f.gauge("orchestration_pool_utilization_ratio",
            "Busy time over wall time of the pool in the utilization window.", p.utilization, l);
    f.gauge("orchestration_pool_active_executors", "Executors the pool runs (pool size).",
            p.executors, l);
    f.gauge("orchestration_pool_min_executors", "The pool's minimum executors.", p.min, l);
    f.gauge("orchestration_pool_max_executors", "The pool's maximum executors.", p.max, l);
    f.gauge("orchestration_pool_healthy_ratio", "Healthy executors over all executors.",
            ratio(c.healthy, p.executors), l);
    const std::pair<const char*, std::uint32_t> by_state[] = {{"starting", c.starting},
                                                              {"healthy", c.healthy},
                                                              {"degraded", c.degraded},
                                                              {"unhealthy", c.unhealthy},
                                                              {"stopping", c.stopping}};
    for (auto& [name, n] : by_state)
      f.gauge("orchestration_pool_executors_by_state", "Executors of the pool per health state.", n,
              {{"pool", p.name}, {"state", name}});
    const std::pair<const char*, std::uint64_t> scaling[] = {
        {"up", p.scale_ups}, {"down", p.scale_downs}, {"refused", p.refused_scale_ups}};
    for (auto& [dir, n] : scaling)
      f.counter("orchestration_pool_scaling_events_total",
                "Scaling decisions applied (up, down) or refused by the budget.",
                static_cast<double>(n), {{"pool", p.name}, {"direction", dir}});
    f.gauge("orchestration_pool_queue_depth", "Messages waiting in the pool's queue.",
            static_cast<double>(p.queue_depth), l);
    f.gauge("orchestration_pool_failed", "1 when the pool exceeded its restart intensity.",
            p.failed ? 1.0 : 0.0, l);
    f.gauge("orchestration_pool_paused", "1 while an operator has paused the pool.",
            p.paused ? 1.0 : 0.0, l);
    f.gauge("orchestration_pool_target_executors",
            "The size the coordinator is steering the pool towards.", p.target, l);
    f.gauge("orchestration_circuit_breaker_state",
            "The pool's worst circuit breaker: 0 closed, 1 half-open, 2 open.",
            breaker_value(c.breaker), l);
  }
}

void system_series(families& f, const observation& obs) {
  auto& s = *obs.snapshot;
  auto d = [](auto x) { return static_cast<double>(x); };
  f.gauge("orchestration_coordinator_uptime_seconds", "Time since the coordinator started.",
          secs(s.uptime));
  f.gauge("orchestration_active_executors", "Executors running across all pools.",
          d(s.executors.size()));
  f.counter("orchestration_items_processed_total", "Items processed across all pools.", d(s.items));
  f.counter("orchestration_errors_total", "Failed batches across all pools.", d(s.errors));
  double batches = 0;
  for (auto& e : s.executors)
    batches += d(e.batches);
  f.gauge("orchestration_error_rate", "Failed batches over batches run, all executors.",
          ratio(d(s.errors), batches));
  f.gauge("orchestration_db_pool_saturation", "Leased connections over broker connections.",
          std::clamp(s.broker.saturation, 0.0, 1.0));
  f.gauge("orchestration_db_connections_used_ratio",
          "Database connections in use over the connections the broker holds.",
          ratio(d(s.broker.leased), d(s.broker.size)));
  f.gauge("orchestration_db_pool_size", "Connections the broker holds.", d(s.broker.size));
  f.gauge("orchestration_db_connections_active", "Connections leased out now.", d(s.broker.leased));
  f.gauge("orchestration_db_connections_peak",
          "The most connections leased out at once since the node started.",
          d(s.broker.peak_leased));
  f.gauge("orchestration_db_lease_waiters", "Executors waiting for a connection.",
          d(s.broker.waiting));
  f.counter("orchestration_db_lease_timeouts_total", "Lease requests that timed out.",
            d(s.broker.timeouts));
  f.counter("orchestration_db_reconnects_total", "Broken connections reopened.",
            d(s.broker.reconnects));
  f.gauge("orchestration_backpressure_factor",
          "Backpressure factor in force: 1 normal, lower throttles executors.", s.backpressure);
  f.counter("orchestration_backpressure_events_total", "Times backpressure engaged.",
            d(s.backpressure_events));
  f.gauge("orchestration_executor_efficiency_ratio",
          "Busy time over wall time across all executors in the utilization window.",
          std::clamp(s.utilization, 0.0, 1.0));
  f.gauge("orchestration_executor_budget_limit", "Executors the connection budget allows.",
          d(s.executor_limit));
  f.gauge("orchestration_executor_budget_allocated", "Executors the budget handed out.",
          d(s.executors_allocated));
  f.counter("orchestration_resource_constraint_violations_total",
            "Scale-ups the connection budget refused in whole or in part.",
            d(s.constraint_violations));
}

} // namespace

double breaker_value(messaging::breaker_state x) {
  switch (x) {
  case messaging::breaker_state::closed:
    return 0.0;
  case messaging::breaker_state::half_open:
    return 1.0;
  case messaging::breaker_state::open:
    return 2.0;
  }
  return 2.0;
}

std::vector<MetricFamily> snapshot_families(const observation& obs, const node_info& info) {
  families f;
  f.gauge("orchestration_coordinator_up", "1 when the coordinator answered the last scrape.",
          obs.snapshot ? 1.0 : 0.0);
  if (obs.snapshot) {
    executor_series(f, *obs.snapshot);
    pool_series(f, obs);
    system_series(f, obs);
  }
  f.gauge("orchestration_cpu_utilization_per_core",
          "CPU time of this process over wall time, divided by the cores.", obs.cpu_utilization);
  f.gauge("orchestration_process_resident_memory_bytes",
          "Resident memory of the node process.",
          static_cast<double>(obs.resident_memory_bytes));
  f.gauge("orchestration_config_validation_status",
          "1 when the configuration passed validation and the executor budget, else 0.",
          info.budget.ok() ? 1.0 : 0.0);
  f.gauge("orchestration_component_config_load_time_seconds",
          "Time taken to load and validate the configuration at start-up.",
          info.config_load_time.count());
  return f.take();
}

} // namespace tasker::observability
