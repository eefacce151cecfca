#pragma once
/// Items per second per pool, from the item counters of successive
/// coordinator snapshots over a sliding window.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>

namespace tasker::observability {

/// Tracks (time, items) samples per pool and reports the rate over a window.
/// Not thread-safe; the snapshot cache serializes access.
class throughput_tracker {
public:
  /// The clock samples are taken on.
  using clock = std::chrono::steady_clock;

  /// Keeps samples no older than `window` (plus the one just before it, so
  /// the rate always spans the whole window once enough time has passed).
  explicit throughput_tracker(clock::duration window = std::chrono::seconds{30});

  /// Records that `pool` had processed `items` in total at `at`.
  void record(const std::string& pool, std::uint64_t items, clock::time_point at);

  /// Items per second of `pool` between its oldest kept and newest sample;
  /// with a single sample, `fallback_elapsed` (e.g. the coordinator's uptime)
  /// is taken as the span from zero items. 0 for an unknown pool.
  double rate(const std::string& pool,
              clock::duration fallback_elapsed = clock::duration::zero()) const;

  /// Drops the history of every pool not named in `alive`.
  void forget_all_but(const std::map<std::string, std::uint64_t>& alive);

private:
  struct sample {
    clock::time_point at;
    std::uint64_t items;
  };
  clock::duration window_;
  std::map<std::string, std::deque<sample>> samples_;
};

} // namespace tasker::observability
