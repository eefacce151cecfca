#pragma once
/// The coordinator's status as the HTTP endpoints see it: one snapshot,
/// fetched with a blocking request and reused for a short while, so a burst of
/// probes costs the coordinator one status query and never any orchestration
/// work or database access.

#include "messaging/messages.hpp"
#include "observability/cpu_sampler.hpp"
#include "observability/throughput.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace tasker::observability {

/// One look at the runtime: the coordinator's snapshot (when it answered)
/// plus what the HTTP side derives from successive snapshots.
struct observation {
  /// The snapshot; absent when the coordinator did not answer.
  std::optional<messaging::coordinator_snapshot> snapshot;
  /// Why the snapshot is absent (the rendered CAF error).
  std::string error;
  /// Items per second per pool over the throughput window.
  std::map<std::string, double> throughput;
  /// This process's CPU use per core since the previous sample, in [0, 1].
  double cpu_utilization = 0.0;
  /// This process's resident memory in bytes.
  std::uint64_t resident_memory_bytes = 0;
  /// When the snapshot was taken (wall clock, for the status page).
  std::chrono::system_clock::time_point taken_at{};
};

/// How the cache talks to the coordinator.
struct snapshot_cache_options {
  /// How long one status request may take before the coordinator counts as
  /// not answering.
  std::chrono::milliseconds request_timeout{2000};
  /// A snapshot younger than this is served again instead of asking anew.
  std::chrono::milliseconds max_age{250};
  /// The window over which pool throughput is computed.
  std::chrono::seconds throughput_window{30};
};

/// Fetches and caches coordinator snapshots for the HTTP threads. Thread-safe:
/// concurrent callers share one request.
class snapshot_cache {
public:
  /// Asks `coordinator` on `sys`; `cores` divides the CPU utilization.
  snapshot_cache(caf::actor_system& sys, caf::actor coordinator, unsigned cores,
                 snapshot_cache_options options = {});

  /// The current observation, fetched when the cached one is older than max_age.
  observation current();

private:
  observation fetch();

  caf::actor_system& sys_;
  caf::actor coordinator_;
  snapshot_cache_options options_;
  cpu_sampler cpu_;
  std::mutex mtx_;
  throughput_tracker throughput_;
  std::optional<observation> cached_;
  std::chrono::steady_clock::time_point cached_at_{};
};

} // namespace tasker::observability
