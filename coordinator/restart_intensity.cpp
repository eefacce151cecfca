#include "coordinator/restart_intensity.hpp"

#include <algorithm>

namespace tasker::coordinator {

std::string_view to_string(restart_verdict verdict) noexcept {
  return verdict == restart_verdict::allowed ? "allowed" : "escalate";
}

restart_intensity::restart_intensity(restart_settings settings) : settings_(settings) {}

restart_verdict restart_intensity::record_restart(time_point now) {
  // OTP counts a restart exactly `period` old as already outside the window.
  while (!restarts_.empty() && now - restarts_.front() >= settings_.period)
    restarts_.pop_front();
  restarts_.push_back(now);
  return restarts_.size() > settings_.max_restarts ? restart_verdict::escalate
                                                   : restart_verdict::allowed;
}

std::size_t restart_intensity::recent(time_point now) const {
  return static_cast<std::size_t>(std::count_if(
      restarts_.begin(), restarts_.end(), [&](auto at) { return now - at < settings_.period; }));
}

} // namespace tasker::coordinator
