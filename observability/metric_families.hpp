#pragma once
/// The Prometheus series of one observation: every value read from the
/// coordinator's snapshot at scrape time, so nothing can drift from it.
/// Pure functions; the stateful histogram lives in `metrics_exporter`.

#include "observability/node_info.hpp"
#include "observability/snapshot_cache.hpp"

#include <prometheus/metric_family.h>

#include <vector>

namespace tasker::observability {

/// Numeric encoding of a circuit breaker in the `*_circuit_breaker_state`
/// gauges: 0 closed, 1 half-open, 2 open.
double breaker_value(messaging::breaker_state x);

/// Every gauge and counter of `obs`: per executor, per pool, system-wide,
/// resources and configuration health (see docs/observability.md).
std::vector<prometheus::MetricFamily> snapshot_families(const observation& obs,
                                                        const node_info& info);

} // namespace tasker::observability
