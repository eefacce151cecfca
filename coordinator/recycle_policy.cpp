#include "coordinator/recycle_policy.hpp"

#include "coordinator/detail/text.hpp"

namespace tasker::coordinator {

using detail::format_text;

recycle_policy::recycle_policy(recycle_settings settings) : settings_(settings) {}

bool recycle_policy::enabled() const noexcept {
  return settings_.max_batches > 0 || settings_.max_lifetime > duration::zero();
}

recycle_verdict recycle_policy::evaluate(std::uint64_t batches_done, time_point started_at,
                                         time_point now) const {
  if (settings_.max_batches > 0 && batches_done >= settings_.max_batches)
    return {true, format_text("processed %llu batches (limit %llu)",
                              static_cast<unsigned long long>(batches_done),
                              static_cast<unsigned long long>(settings_.max_batches))};
  if (settings_.max_lifetime > duration::zero() && now - started_at >= settings_.max_lifetime)
    return {true, format_text("ran %.0fs (limit %.0fs)", to_seconds(now - started_at),
                              to_seconds(settings_.max_lifetime))};
  return {};
}

} // namespace tasker::coordinator
