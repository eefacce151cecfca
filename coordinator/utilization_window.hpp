#pragma once
/// Pool utilization from executors' busy/wall time reports over a sliding window.

#include "coordinator/time.hpp"

#include <cstdint>
#include <deque>
#include <unordered_map>

namespace tasker::coordinator {

/// Busy and wall time summed over some set of reports.
struct time_totals {
  /// Nanoseconds spent processing batches.
  std::uint64_t busy_ns = 0;
  /// Nanoseconds of wall time covered by the reports.
  std::uint64_t wall_ns = 0;

  /// busy / wall, or 0 when no wall time was reported.
  double ratio() const noexcept;
};

/// Sliding window of per-executor (busy_ns, wall_ns) deltas.
///
/// Utilization is busy time over wall time, never items per batch: an
/// executor that waits on an empty queue reports wall time without busy time,
/// which is exactly what an idle pool looks like. A report with busy > wall
/// (clock skew between the two measurements) is clamped to wall. Executors
/// are keyed by actor id in a hash map: a coordinator records a report from
/// every executor every second.
class utilization_window {
public:
  /// Creates a window keeping reports no older than `window`.
  explicit utilization_window(duration window);

  /// Adds one heartbeat's busy and wall deltas for `executor`, received at `at`.
  void record(std::uint64_t executor, std::uint64_t busy_ns, std::uint64_t wall_ns,
              time_point at);

  /// Drops an executor's reports, e.g. when it is removed and replaced.
  void forget(std::uint64_t executor);

  /// Discards reports older than the window and executors left without any.
  void prune(time_point now);

  /// Sum of busy over sum of wall across every executor within the window.
  double utilization(time_point now) const;

  /// One executor's utilization within the window; 0 when it has no reports.
  double executor_utilization(std::uint64_t executor, time_point now) const;

  /// The pool's summed busy and wall time within the window.
  time_totals totals(time_point now) const;

  /// Executors with at least one report still held.
  std::size_t executor_count() const noexcept { return executors_.size(); }

  /// The window length.
  duration window() const noexcept { return window_; }

private:
  struct sample {
    time_point at;
    std::uint64_t busy_ns;
    std::uint64_t wall_ns;
  };

  time_totals sum(const std::deque<sample>& samples, time_point now) const;

  duration window_;
  std::unordered_map<std::uint64_t, std::deque<sample>> executors_;
};

} // namespace tasker::coordinator
