#include "observability/throughput.hpp"

namespace tasker::observability {

throughput_tracker::throughput_tracker(clock::duration window) : window_(window) {}

void throughput_tracker::record(const std::string& pool, std::uint64_t items,
                                clock::time_point at) {
  auto& q = samples_[pool];
  if (!q.empty() && items < q.back().items)
    q.clear(); // the counter went back (a restarted coordinator): start over
  if (!q.empty() && q.back().at == at)
    q.back().items = items;
  else
    q.push_back(sample{at, items});
  while (q.size() > 2 && at - q[1].at >= window_)
    q.pop_front();
}

double throughput_tracker::rate(const std::string& pool, clock::duration fallback_elapsed) const {
  auto i = samples_.find(pool);
  if (i == samples_.end() || i->second.empty())
    return 0.0;
  auto& q = i->second;
  if (q.size() == 1) {
    auto secs = std::chrono::duration<double>(fallback_elapsed).count();
    return secs > 0 ? static_cast<double>(q.front().items) / secs : 0.0;
  }
  auto secs = std::chrono::duration<double>(q.back().at - q.front().at).count();
  return secs > 0 ? static_cast<double>(q.back().items - q.front().items) / secs : 0.0;
}

void throughput_tracker::forget_all_but(const std::map<std::string, std::uint64_t>& alive) {
  for (auto i = samples_.begin(); i != samples_.end();)
    i = alive.count(i->first) ? std::next(i) : samples_.erase(i);
}

} // namespace tasker::observability
