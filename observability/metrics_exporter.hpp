#pragma once
/// The `/metrics` body: the snapshot series plus a batch-duration histogram
/// per pool, in the Prometheus text format.
///
/// Executors report a mean batch duration per heartbeat, not every batch, so
/// the histogram is fed at scrape time: the batches an executor ran since the
/// previous scrape are observed at its latest reported mean. Its buckets are
/// therefore exact in count and sum and approximate (to the report interval)
/// in distribution.

#include "observability/node_info.hpp"
#include "observability/snapshot_cache.hpp"

#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tasker::observability {

/// Name of the per-pool batch-duration histogram.
inline constexpr const char* batch_duration_metric =
    "orchestration_executor_batch_duration_seconds";

/// Renders observations as Prometheus text. Thread-safe.
class metrics_exporter {
public:
  /// Exports for the node described by `info`.
  explicit metrics_exporter(node_info info);

  /// Feeds the histogram from `obs` and returns every family.
  std::vector<prometheus::MetricFamily> collect(const observation& obs);

  /// collect() serialized with prometheus::TextSerializer.
  std::string scrape(const observation& obs);

private:
  void feed_histograms(const messaging::coordinator_snapshot& s);

  node_info info_;
  std::mutex mtx_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>* batch_duration_;
  std::map<std::uint64_t, std::uint64_t> batches_seen_;
};

} // namespace tasker::observability
