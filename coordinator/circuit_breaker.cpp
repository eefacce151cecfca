#include "coordinator/circuit_breaker.hpp"

#include <algorithm>

namespace tasker::coordinator {

std::string_view to_string(breaker_state state) noexcept {
  switch (state) {
  case breaker_state::closed:
    return "closed";
  case breaker_state::open:
    return "open";
  case breaker_state::half_open:
    return "half_open";
  }
  return "unknown";
}

circuit_breaker::circuit_breaker(breaker_settings settings) : settings_(settings) {
  settings_.failure_threshold = std::max<std::uint32_t>(settings_.failure_threshold, 1);
  settings_.success_threshold = std::max<std::uint32_t>(settings_.success_threshold, 1);
}

void circuit_breaker::open(time_point now) {
  state_ = breaker_state::open;
  opened_at_ = now;
  probe_in_flight_ = false;
  half_open_successes_ = 0;
  ++opens_;
}

bool circuit_breaker::allow_request(time_point now) {
  if (state_ == breaker_state::open) {
    if (now - opened_at_ < settings_.open_timeout) {
      ++rejected_;
      return false;
    }
    state_ = breaker_state::half_open;
    half_open_successes_ = 0;
    probe_in_flight_ = false;
  }
  if (state_ == breaker_state::half_open) {
    if (probe_in_flight_ && now - probe_started_ < settings_.open_timeout) {
      ++rejected_;
      return false;
    }
    probe_in_flight_ = true;
    probe_started_ = now;
  }
  return true;
}

void circuit_breaker::record_success(time_point) {
  switch (state_) {
  case breaker_state::closed:
    consecutive_failures_ = 0;
    break;
  case breaker_state::half_open:
    probe_in_flight_ = false;
    if (++half_open_successes_ >= settings_.success_threshold) {
      state_ = breaker_state::closed;
      consecutive_failures_ = 0;
    }
    break;
  case breaker_state::open:
    // A request admitted before the breaker opened finished late; the
    // dependency is not proven healthy by it.
    break;
  }
}

void circuit_breaker::record_failure(time_point now) {
  ++total_failures_;
  switch (state_) {
  case breaker_state::closed:
    if (++consecutive_failures_ >= settings_.failure_threshold)
      open(now);
    break;
  case breaker_state::half_open:
    open(now);
    break;
  case breaker_state::open:
    break;
  }
}

} // namespace tasker::coordinator
