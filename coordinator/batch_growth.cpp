#include "coordinator/batch_growth.hpp"

#include <algorithm>

namespace tasker::coordinator {

batch_growth::batch_growth(std::size_t base, std::size_t max) noexcept
    : base_(std::max<std::size_t>(base, 1)), max_(std::max(max, base_)), size_(base_) {}

void batch_growth::record(std::size_t items, std::size_t asked, bool failed,
                          bool throttled) noexcept {
  if (failed || throttled || asked == 0 || items < asked) {
    size_ = base_;
    return;
  }
  size_ = size_ > max_ / 2 ? max_ : size_ * 2; // doubling cannot pass max_
}

} // namespace tasker::coordinator
