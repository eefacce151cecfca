#pragma once
/// How large an executor's next batch may be: its pool's batch_size, doubled
/// after every full batch up to max_batch_size, back to batch_size after a
/// batch that was not full or failed. Under a backlog the fixed cost of a
/// batch (a transaction, the statements of a call) is shared by more items;
/// when the backlog is gone batches are small again.

#include <cstddef>

namespace tasker::coordinator {

class batch_growth {
public:
  /// `max` below `base` (0 included) means no growth.
  batch_growth(std::size_t base, std::size_t max) noexcept;

  /// The most items the next batch may take (before backpressure).
  std::size_t size() const noexcept { return size_; }

  /// Feeds a finished batch: `items` taken of the `asked` it was allowed.
  /// `throttled` (backpressure in force) and `failed` reset the size.
  void record(std::size_t items, std::size_t asked, bool failed, bool throttled) noexcept;

private:
  std::size_t base_;
  std::size_t max_;
  std::size_t size_;
};

} // namespace tasker::coordinator
