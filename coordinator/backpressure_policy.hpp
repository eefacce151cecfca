#pragma once
/// Backpressure: a throttle factor derived from connection-broker saturation,
/// and how executors apply it to their polling and batch size.

#include "coordinator/time.hpp"

#include <cstddef>
#include <cstdint>

namespace tasker::coordinator {

/// The lowest factor ever applied: executors keep at least 10 % of their pace.
inline constexpr double min_backpressure_factor = 0.1;

/// Thresholds for engaging and releasing backpressure.
struct backpressure_settings {
  /// Saturation above which backpressure engages.
  double max_db_pool_usage = 0.85;
  /// Backpressure is released only below max_db_pool_usage − release_margin.
  double release_margin = 0.10;
  /// While engaged, smaller factor movements are not reported, to spare a
  /// broadcast to every executor on every tick.
  double min_step = 0.05;
};

/// The result of feeding one saturation sample.
struct backpressure_update {
  /// The factor executors should use, in [0.1, 1].
  double factor = 1.0;
  /// True when the factor differs from the one last reported.
  bool changed = false;
  /// True while backpressure is engaged.
  bool engaged = false;
};

/// Tracks broker saturation and decides the backpressure factor.
class backpressure_policy {
public:
  /// Creates a released policy (factor 1.0).
  explicit backpressure_policy(backpressure_settings settings = {});

  /// Feeds the broker's saturation (leased / total connections, 0..1).
  backpressure_update update(double saturation);

  /// The factor last reported.
  double factor() const noexcept { return factor_; }

  /// Whether backpressure is engaged.
  bool engaged() const noexcept { return engaged_; }

  /// How many times backpressure engaged (the "backpressure events" metric).
  std::uint64_t engagements() const noexcept { return engagements_; }

  /// How many factor changes were reported.
  std::uint64_t changes() const noexcept { return changes_; }

  /// The thresholds in use.
  const backpressure_settings& settings() const noexcept { return settings_; }

private:
  backpressure_settings settings_;
  double factor_ = 1.0;
  bool engaged_ = false;
  std::uint64_t engagements_ = 0;
  std::uint64_t changes_ = 0;
};

/// `factor` clamped to [0.1, 1]; NaN counts as no backpressure.
double clamp_backpressure_factor(double factor) noexcept;

/// The poll interval under backpressure: base / factor (at most 10 × base).
duration effective_poll_interval(duration base, double factor) noexcept;

/// The batch size under backpressure: max(1, floor(base × factor)), never
/// below 10 % of base.
std::size_t effective_batch_size(std::size_t base, double factor) noexcept;

} // namespace tasker::coordinator
