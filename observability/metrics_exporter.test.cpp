#include "observability/metrics_exporter.hpp"

#include "observability/exposition.test.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

using namespace tasker;
using namespace tasker::observability;
using namespace tasker::messaging;
using namespace std::chrono_literals;

namespace {

observation sample_observation() {
  coordinator_snapshot s;
  pool_snapshot p;
  p.name = "task_claimer";
  p.executors = 2;
  p.min = 1;
  p.max = 3;
  p.items = 40;
  p.errors = 2;
  p.scale_ups = 3;
  p.scale_downs = 1;
  p.refused_scale_ups = 1;
  p.queue_depth = 7;
  s.pools.push_back(p);
  for (std::uint64_t id : {11u, 12u}) {
    executor_snapshot e;
    e.id = id;
    e.pool = "task_claimer";
    e.state = executor_state::healthy;
    e.items = 20;
    e.errors = 1;
    e.batches = 10;
    e.mean_batch_latency = 20ms;
    s.executors.push_back(e);
  }
  s.executors[1].breaker = breaker_state::open;
  s.broker.size = 4;
  s.broker.leased = 1;
  s.broker.peak_leased = 3;
  s.broker.saturation = 0.25;
  s.backpressure_events = 2;
  s.constraint_violations = 1;
  s.executor_limit = 3;
  s.executors_allocated = 2;
  s.utilization = 0.4;
  observation obs;
  obs.snapshot = s;
  obs.throughput["task_claimer"] = 4.0;
  obs.cpu_utilization = 0.1;
  obs.resident_memory_bytes = 64u * 1024u * 1024u;
  return obs;
}

node_info sample_info() {
  node_info i;
  i.budget = resources::calculate_budget(i.config);
  i.config_load_time = 25ms;
  return i;
}

const prometheus::MetricFamily* family(const std::vector<prometheus::MetricFamily>& fs,
                                       const std::string& name) {
  auto i = std::find_if(fs.begin(), fs.end(), [&](auto& f) { return f.name == name; });
  return i == fs.end() ? nullptr : &*i;
}

double value_of(const prometheus::ClientMetric& m, prometheus::MetricType t) {
  return t == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
}

// The single series of `name` whose labels include `label`=`value` (or the
// only series when `label` is empty).
double series(const std::vector<prometheus::MetricFamily>& fs, const std::string& name,
              const std::string& label = "", const std::string& value = "") {
  auto f = family(fs, name);
  REQUIRE_MESSAGE(f, name << " is missing");
  for (auto& m : f->metric)
    if (label.empty() || std::any_of(m.label.begin(), m.label.end(),
                                     [&](auto& l) { return l.name == label && l.value == value; }))
      return value_of(m, f->type);
  FAIL(name << " has no series with " << label << "=" << value);
  return 0;
}

} // namespace

TEST_CASE("the metrics text parses as Prometheus exposition and carries every named series") {
  metrics_exporter exporter{sample_info()};
  auto text = exporter.scrape(sample_observation());
  std::vector<std::string> bad;
  auto names = testing::exposition_names(text, bad);
  CHECK_MESSAGE(bad.empty(), "unparsable line: " << (bad.empty() ? "" : bad.front()));
  std::set<std::string> have(names.begin(), names.end());
  for (auto name : {"orchestration_executor_items_processed_total",
                    "orchestration_executor_error_rate",
                    "orchestration_executor_health_state",
                    "orchestration_executor_utilization_ratio",
                    "orchestration_executor_batch_duration_seconds_bucket",
                    "orchestration_executor_batch_duration_seconds_count",
                    "orchestration_pool_items_processed_total",
                    "orchestration_pool_active_executors",
                    "orchestration_pool_scaling_events_total",
                    "orchestration_pool_queue_depth",
                    "orchestration_pool_healthy_ratio",
                    "orchestration_db_pool_saturation",
                    "orchestration_circuit_breaker_state",
                    "orchestration_backpressure_events_total",
                    "orchestration_active_executors",
                    "orchestration_db_connections_used_ratio",
                    "orchestration_cpu_utilization_per_core",
                    "orchestration_executor_efficiency_ratio",
                    "orchestration_resource_constraint_violations_total",
                    "orchestration_config_validation_status",
                    "orchestration_component_config_load_time_seconds"})
    CHECK_MESSAGE(have.count(name), name << " is missing");
}

TEST_CASE("series values come from the snapshot") {
  metrics_exporter exporter{sample_info()};
  auto fs = exporter.collect(sample_observation());
  CHECK(series(fs, "orchestration_pool_items_processed_total") == 40);
  CHECK(series(fs, "orchestration_pool_scaling_events_total", "direction", "up") == 3);
  CHECK(series(fs, "orchestration_pool_scaling_events_total", "direction", "refused") == 1);
  CHECK(series(fs, "orchestration_pool_queue_depth") == 7);
  CHECK(series(fs, "orchestration_pool_throughput_items_per_second") == 4.0);
  CHECK(series(fs, "orchestration_pool_error_rate") == doctest::Approx(0.1));
  CHECK(series(fs, "orchestration_circuit_breaker_state") == 2.0);
  CHECK(series(fs, "orchestration_executor_circuit_breaker_state", "executor", "11") == 0.0);
  CHECK(series(fs, "orchestration_executor_health_state", "state", "healthy") == 1.0);
  CHECK(series(fs, "orchestration_active_executors") == 2);
  CHECK(series(fs, "orchestration_db_connections_used_ratio") == doctest::Approx(0.25));
  CHECK(series(fs, "orchestration_db_connections_active") == 1);
  CHECK(series(fs, "orchestration_db_connections_peak") == 3);
  CHECK(series(fs, "orchestration_backpressure_events_total") == 2);
  CHECK(series(fs, "orchestration_resource_constraint_violations_total") == 1);
  CHECK(series(fs, "orchestration_executor_efficiency_ratio") == doctest::Approx(0.4));
  CHECK(series(fs, "orchestration_cpu_utilization_per_core") == doctest::Approx(0.1));
  CHECK(series(fs, "orchestration_process_resident_memory_bytes") == 64.0 * 1024 * 1024);
  CHECK(series(fs, "orchestration_config_validation_status") == 1.0);
  CHECK(series(fs, "orchestration_component_config_load_time_seconds") == doctest::Approx(0.025));
}

TEST_CASE("the batch histogram counts each batch once across scrapes") {
  metrics_exporter exporter{sample_info()};
  auto obs = sample_observation();
  auto count = [&](const std::vector<prometheus::MetricFamily>& fs) {
    auto f = family(fs, batch_duration_metric);
    REQUIRE(f);
    REQUIRE(f->metric.size() == 1);
    return f->metric[0].histogram;
  };
  auto first = count(exporter.collect(obs));
  CHECK(first.sample_count == 20);
  CHECK(first.sample_sum == doctest::Approx(20 * 0.020));
  CHECK(count(exporter.collect(obs)).sample_count == 20); // same snapshot: nothing new
  obs.snapshot->executors[0].batches = 15;
  obs.snapshot->executors[0].mean_batch_latency = 2s;
  auto third = count(exporter.collect(obs));
  CHECK(third.sample_count == 25);
  // The five new batches at 2 s land above the 1 s bucket.
  auto le1 = std::find_if(third.bucket.begin(), third.bucket.end(),
                          [](auto& b) { return b.upper_bound == 1.0; });
  REQUIRE(le1 != third.bucket.end());
  CHECK(le1->cumulative_count == 20);
}

TEST_CASE("without a coordinator only the liveness of the coordinator and node series remain") {
  metrics_exporter exporter{sample_info()};
  observation none;
  auto fs = exporter.collect(none);
  CHECK(series(fs, "orchestration_coordinator_up") == 0.0);
  CHECK(family(fs, "orchestration_pool_active_executors") == nullptr);
  CHECK(family(fs, "orchestration_config_validation_status") != nullptr);
}
