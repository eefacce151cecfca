#include "coordinator/budget_allocator.hpp"

#include <algorithm>
#include <numeric>

namespace tasker::coordinator {

budget_allocator::budget_allocator(std::size_t total_executor_limit)
    : limit_(total_executor_limit) {}

void budget_allocator::set_current(std::string_view pool, std::size_t count) {
  if (auto it = pools_.find(pool); it != pools_.end())
    it->second = count;
  else
    pools_.emplace(std::string{pool}, count);
}

void budget_allocator::release(std::string_view pool, std::size_t count) {
  if (auto it = pools_.find(pool); it != pools_.end())
    it->second -= std::min(it->second, count);
}

std::size_t budget_allocator::allocated() const noexcept {
  std::size_t total = 0;
  for (const auto& [pool, count] : pools_)
    total += count;
  return total;
}

std::size_t budget_allocator::allocated(std::string_view pool) const {
  auto it = pools_.find(pool);
  return it == pools_.end() ? 0 : it->second;
}

std::size_t budget_allocator::remaining() const noexcept {
  const std::size_t used = allocated();
  return used >= limit_ ? 0 : limit_ - used;
}

std::vector<scale_grant> budget_allocator::allocate(const std::vector<scale_request>& requests) {
  for (const auto& r : requests)
    set_current(r.pool, r.current);

  std::vector<std::size_t> order(requests.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return requests[a].resource_weight > requests[b].resource_weight;
  });

  std::vector<scale_grant> grants(requests.size());
  for (std::size_t i : order) {
    const auto& r = requests[i];
    const std::size_t granted = std::min(r.increase, remaining());
    pools_.find(r.pool)->second += granted;
    if (granted < r.increase)
      ++violations_;
    grants[i] = {r.pool, r.increase, granted};
  }
  return grants;
}

} // namespace tasker::coordinator
