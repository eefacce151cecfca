#pragma once
/// Percentiles of a sample, for the latency figures.

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace tasker::bench {

/// The `p`-th percentile (0..100) of sorted `v`, nearest rank; 0 when empty.
inline double percentile(const std::vector<double>& v, double p) {
  if (v.empty())
    return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

/// count, min, p50, p95, p99, max and mean of `v`.
inline nlohmann::json percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v)
    sum += x;
  return {{"count", v.size()},
          {"min", v.empty() ? 0 : v.front()},
          {"p50", percentile(v, 50)},
          {"p95", percentile(v, 95)},
          {"p99", percentile(v, 99)},
          {"max", v.empty() ? 0 : v.back()},
          {"mean", v.empty() ? 0 : sum / static_cast<double>(v.size())}};
}

} // namespace tasker::bench
