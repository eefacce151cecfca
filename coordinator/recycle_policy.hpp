#pragma once
/// When a long-lived executor should be replaced by a fresh one.

#include "coordinator/time.hpp"

#include <cstdint>
#include <string>

namespace tasker::coordinator {

/// Recycling limits; zero disables a limit.
struct recycle_settings {
  /// Batches after which an executor is recycled (0 = never).
  std::uint64_t max_batches = 0;
  /// Age after which an executor is recycled (0 = never).
  duration max_lifetime{};
};

/// Whether an executor is due for recycling, and why.
struct recycle_verdict {
  /// True when a limit was reached.
  bool due = false;
  /// Which limit was reached; empty when not due.
  std::string reason;
};

/// Periodic replacement bounds the damage of slow leaks (memory, prepared
/// statements, session state) in executors that otherwise never restart.
class recycle_policy {
public:
  /// Creates a policy with the given limits.
  explicit recycle_policy(recycle_settings settings = {});

  /// Evaluates an executor that has run `batches_done` batches since `started_at`.
  recycle_verdict evaluate(std::uint64_t batches_done, time_point started_at, time_point now) const;

  /// True when at least one limit is set.
  bool enabled() const noexcept;

  /// The limits in use.
  const recycle_settings& settings() const noexcept { return settings_; }

private:
  recycle_settings settings_;
};

} // namespace tasker::coordinator
