#pragma once
/// Task claims: which orchestration node drives a task for now
/// (tasker_claim_ready_tasks and friends, 0003_orchestration.sql).
///
/// A claim is a lease: it lapses claim_timeout_seconds after claimed_at, and
/// a lapsed claim may be taken by any node, so a crashed node strands nothing.

#include "resources/store_error.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tasker::resources {

/// How many seconds of waiting add one point of effective priority by default.
inline constexpr double default_aging_seconds = 60.0;

/// One task claimed by this call.
struct claimed_task {
  std::string task_uuid;                            ///< the task now held by the caller
  std::string namespace_name;                       ///< its namespace
  std::int32_t priority = 0;                        ///< its own priority
  double effective_priority = 0;                    ///< priority + seconds waiting / aging_seconds
  std::chrono::system_clock::time_point claimed_at; ///< start of the lease
};

/// Claims up to `limit` tasks that are pending or in progress, have a ready
/// step and carry no live claim, highest effective priority first, for
/// `node_id`; rows locked by concurrent claimers are skipped. One statement.
std::vector<claimed_task> claim_ready_tasks(pqxx::transaction_base& tx, std::string_view node_id,
                                            std::int32_t limit, std::int32_t claim_timeout_seconds,
                                            double aging_seconds = default_aging_seconds);

/// Releases the claims in `task_uuids` that `node_id` holds; returns those released.
std::vector<std::string> release_claims(pqxx::transaction_base& tx,
                                        const std::vector<std::string>& task_uuids,
                                        std::string_view node_id);

/// Restarts the lease of the claims in `task_uuids` that `node_id` still
/// holds; returns those extended (a missing one was lost to another node).
std::vector<std::string> extend_claims(pqxx::transaction_base& tx,
                                       const std::vector<std::string>& task_uuids,
                                       std::string_view node_id);

} // namespace tasker::resources
