#pragma once
/// The retry backoff of a failed step, as plain code.
/// tasker_apply_results_and_dispatch (0034_flat_processor_calls.sql) computes
/// the same formula in SQL; this mirror lets tools and tests reason about
/// delays without a database.

#include "messaging/task_template.hpp"

#include <chrono>
#include <cstdint>

namespace tasker::actors {

/// The delay before the next attempt after `attempts` attempts failed:
/// min(base_ms * 2^(attempts-1), max_ms) * (1 + jitter * jitter_sample), where
/// `jitter_sample` is uniform in [-1, 1] (clamped there); attempts < 1 counts as 1.
std::chrono::milliseconds
backoff_delay(std::int32_t attempts, const messaging::backoff_policy& policy, double jitter_sample);

} // namespace tasker::actors
