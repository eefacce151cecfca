#pragma once
/// Resource-aware scaling: executor increases granted against the
/// connection budget, heavier-weighted pools first.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tasker::coordinator {

/// One pool's wish to grow, as produced by its scaling decision.
struct scale_request {
  /// The pool asking.
  std::string pool;
  /// Executors the pool runs now.
  std::size_t current = 0;
  /// Executors it wants to add.
  std::size_t increase = 0;
  /// Priority when connections are contended; higher wins.
  double resource_weight = 1.0;
};

/// What a pool may actually add.
struct scale_grant {
  /// The pool the grant is for.
  std::string pool;
  /// Executors the pool asked for.
  std::size_t requested = 0;
  /// Executors it may add; less than requested when the budget ran out.
  std::size_t granted = 0;

  /// True when the budget refused part or all of the request.
  bool refused() const noexcept { return granted < requested; }
};

/// Tracks how many executors (one connection each) every pool holds and
/// grants increases without exceeding the executor limit.
///
/// Every executor holds a database connection, so the limit is the
/// connections available to executors (pool size minus reserved ones).
class budget_allocator {
public:
  /// Creates an allocator for `total_executor_limit` executors across all pools.
  explicit budget_allocator(std::size_t total_executor_limit);

  /// Records a pool's actual size (after a scale-down, crash or restart).
  void set_current(std::string_view pool, std::size_t count);

  /// Returns executors a pool gave back; never below zero.
  void release(std::string_view pool, std::size_t count);

  /// Grants `requests` (one per pool) within the remaining budget.
  ///
  /// Each request's `current` is recorded first. Requests are served by
  /// descending weight, ties in the order given; a request served only in
  /// part or not at all counts as one constraint violation. The grants come
  /// back in the order of `requests`.
  std::vector<scale_grant> allocate(const std::vector<scale_request>& requests);

  /// The executor limit.
  std::size_t total_limit() const noexcept { return limit_; }

  /// Executors held across all pools.
  std::size_t allocated() const noexcept;

  /// Executors held by `pool`.
  std::size_t allocated(std::string_view pool) const;

  /// Executors that can still be granted.
  std::size_t remaining() const noexcept;

  /// Requests the budget refused in whole or in part, since creation.
  std::uint64_t constraint_violations() const noexcept { return violations_; }

private:
  std::size_t limit_;
  std::map<std::string, std::size_t, std::less<>> pools_;
  std::uint64_t violations_ = 0;
};

} // namespace tasker::coordinator
