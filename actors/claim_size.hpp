#pragma once
/// How many step messages a worker actor claims at once, as plain code.
///
/// The steps of one claim run one after another in the actor. A large claim
/// of slow steps holds the later ones back while other actors of the group
/// may be idle; a small claim of quick steps pays the claim's fixed cost (one
/// statement, one commit) for a few steps. So an actor claims what it expects
/// to finish within a horizon: the horizon divided by the average run time of
/// its recent steps, between 1 and the configured maximum. It starts at 1 and
/// at most doubles from one claim to the next, so a new actor learns its
/// handlers' pace before it takes many steps.

#include <chrono>
#include <cstddef>

namespace tasker::actors {

/// The claim size of one worker actor (not thread-safe: its actor owns it).
class claim_size {
public:
  /// At most `max` (at least 1) steps per claim; a claim should finish within
  /// `horizon` at the pace of the steps run so far.
  claim_size(std::size_t max, std::chrono::nanoseconds horizon);

  /// Steps to claim next, in [1, max].
  std::size_t next() const noexcept { return next_; }

  /// Records a claim that ran `steps` handlers in `run_time` in total; an
  /// empty claim changes nothing.
  void record(std::size_t steps, std::chrono::nanoseconds run_time) noexcept;

  /// Average run time of one step (exponentially weighted, the latest claim
  /// weighing 0.3); zero before the first step.
  std::chrono::nanoseconds average() const noexcept { return average_; }

private:
  std::size_t max_;
  std::chrono::nanoseconds horizon_;
  std::chrono::nanoseconds average_{0};
  std::size_t next_ = 1;
};

} // namespace tasker::actors
