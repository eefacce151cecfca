#include "coordinator/utilization_window.hpp"

#include <algorithm>

namespace tasker::coordinator {

double time_totals::ratio() const noexcept {
  return wall_ns == 0 ? 0.0 : static_cast<double>(busy_ns) / static_cast<double>(wall_ns);
}

utilization_window::utilization_window(duration window) : window_(window) {}

void utilization_window::record(std::uint64_t executor, std::uint64_t busy_ns,
                                std::uint64_t wall_ns, time_point at) {
  auto& samples = executors_[executor];
  samples.push_back({at, std::min(busy_ns, wall_ns), wall_ns});
  while (!samples.empty() && samples.front().at < at - window_)
    samples.pop_front();
}

void utilization_window::forget(std::uint64_t executor) {
  executors_.erase(executor);
}

void utilization_window::prune(time_point now) {
  for (auto it = executors_.begin(); it != executors_.end();) {
    auto& samples = it->second;
    while (!samples.empty() && samples.front().at < now - window_)
      samples.pop_front();
    it = samples.empty() ? executors_.erase(it) : std::next(it);
  }
}

time_totals utilization_window::sum(const std::deque<sample>& samples, time_point now) const {
  time_totals t;
  for (const auto& s : samples) {
    if (s.at < now - window_)
      continue;
    t.busy_ns += s.busy_ns;
    t.wall_ns += s.wall_ns;
  }
  return t;
}

time_totals utilization_window::totals(time_point now) const {
  time_totals all;
  for (const auto& [id, samples] : executors_) {
    auto t = sum(samples, now);
    all.busy_ns += t.busy_ns;
    all.wall_ns += t.wall_ns;
  }
  return all;
}

double utilization_window::utilization(time_point now) const {
  return totals(now).ratio();
}

double utilization_window::executor_utilization(std::uint64_t executor, time_point now) const {
  auto it = executors_.find(executor);
  return it == executors_.end() ? 0.0 : sum(it->second, now).ratio();
}

} // namespace tasker::coordinator
