#include "observability/metrics_exporter.hpp"

#include "observability/metric_families.hpp"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <chrono>
#include <set>

namespace tasker::observability {

namespace {

// Batch durations from a quick idle poll (~1 ms) to a timed-out batch (30 s).
const prometheus::Histogram::BucketBoundaries& bucket_bounds() {
  static const prometheus::Histogram::BucketBoundaries bounds{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  return bounds;
}

} // namespace

metrics_exporter::metrics_exporter(node_info info)
    : info_(std::move(info)), registry_(std::make_shared<prometheus::Registry>()) {
  batch_duration_ = &prometheus::BuildHistogram()
                         .Name(batch_duration_metric)
                         .Help("Batch durations per pool, at each executor's reported mean.")
                         .Register(*registry_);
}

void metrics_exporter::feed_histograms(const messaging::coordinator_snapshot& s) {
  std::set<std::uint64_t> alive;
  const auto& bounds = bucket_bounds();
  for (auto& e : s.executors) {
    alive.insert(e.id);
    auto& hist = batch_duration_->Add({{"pool", e.pool}}, bounds);
    auto& seen = batches_seen_[e.id];
    auto fresh = e.batches > seen ? e.batches - seen : 0;
    seen = e.batches;
    if (fresh == 0)
      continue;
    auto mean = std::chrono::duration<double>(e.mean_batch_latency).count();
    std::vector<double> increments(bounds.size() + 1, 0.0);
    auto bucket = std::lower_bound(bounds.begin(), bounds.end(), mean) - bounds.begin();
    increments[static_cast<std::size_t>(bucket)] = static_cast<double>(fresh);
    hist.ObserveMultiple(increments, mean * static_cast<double>(fresh));
  }
  for (auto i = batches_seen_.begin(); i != batches_seen_.end();)
    i = alive.count(i->first) ? std::next(i) : batches_seen_.erase(i);
  // Make sure every pool has a (possibly empty) histogram.
  for (auto& p : s.pools)
    batch_duration_->Add({{"pool", p.name}}, bounds);
}

std::vector<prometheus::MetricFamily> metrics_exporter::collect(const observation& obs) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (obs.snapshot)
    feed_histograms(*obs.snapshot);
  auto out = snapshot_families(obs, info_);
  for (auto& family : registry_->Collect())
    out.push_back(std::move(family));
  return out;
}

std::string metrics_exporter::scrape(const observation& obs) {
  return prometheus::TextSerializer{}.Serialize(collect(obs));
}

} // namespace tasker::observability
