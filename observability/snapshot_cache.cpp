#include "observability/snapshot_cache.hpp"

#include <caf/scoped_actor.hpp>

namespace tasker::observability {

snapshot_cache::snapshot_cache(caf::actor_system& sys, caf::actor coordinator, unsigned cores,
                               snapshot_cache_options options)
    : sys_(sys), coordinator_(std::move(coordinator)), options_(options), cpu_(cores),
      throughput_(options.throughput_window) {}

observation snapshot_cache::current() {
  std::lock_guard<std::mutex> guard{mtx_};
  auto now = std::chrono::steady_clock::now();
  if (!cached_ || now - cached_at_ >= options_.max_age) {
    cached_ = fetch();
    cached_at_ = now;
  }
  return *cached_;
}

observation snapshot_cache::fetch() {
  observation out;
  out.taken_at = std::chrono::system_clock::now();
  out.cpu_utilization = cpu_.utilization();
  out.resident_memory_bytes = resident_memory_bytes();
  if (!coordinator_) {
    out.error = "no coordinator";
    return out;
  }
  {
    // A scoped actor per fetch: it must not outlive the request, or it would
    // keep the actor system from shutting down.
    caf::scoped_actor self{sys_, true};
    self->request(coordinator_, options_.request_timeout, messaging::status_atom::value)
        .receive([&](const messaging::coordinator_snapshot& s) { out.snapshot = s; },
                 [&](const caf::error& err) { out.error = sys_.render(err); });
  }
  if (!out.snapshot)
    return out;
  auto at = std::chrono::steady_clock::now();
  std::map<std::string, std::uint64_t> items;
  for (auto& pool : out.snapshot->pools) {
    items.emplace(pool.name, pool.items);
    throughput_.record(pool.name, pool.items, at);
  }
  throughput_.forget_all_but(items);
  for (auto& pool : out.snapshot->pools)
    out.throughput[pool.name] = throughput_.rate(pool.name, out.snapshot->uptime);
  return out;
}

} // namespace tasker::observability
