#pragma once
/// The concrete processors behind make_processor (processors.hpp), exposed
/// for tests and diagnostics that want their counters or tuning.

#include "actors/executor.hpp"
#include "config/tasker_config.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tasker::actors {

/// Reads task requests, creates every valid task in one call, archives every
/// invalid request with its own reason; one transaction per batch. When no
/// other claimable task is ready, the new tasks start in that transaction and
/// their root steps go to their namespace queues (resources::start_new_tasks,
/// `orchestration.start_tasks_on_creation`); otherwise they wait for the
/// claim path.
class task_request_processor : public batch_processor {
public:
  /// Consumes `cfg.queues.names.task_requests`; archives requests over
  /// `cfg.queues.max_message_bytes` unparsed; starts new tasks on `node_id`.
  task_request_processor(const config::tasker_config& cfg, std::string node_id);

  batch_outcome process_batch(pqxx::connection& conn, std::size_t max_items) override;
  std::string name() const override { return "task_request_processor"; }
  std::vector<std::string> wake_channels() const override { return {queue_}; }

  /// Tasks created since construction (duplicates not included).
  std::uint64_t created() const { return created_; }
  /// Requests that repeated an existing task since construction.
  std::uint64_t duplicates() const { return duplicates_; }
  /// Messages archived as invalid since construction.
  std::uint64_t archived() const { return archived_; }

private:
  // One batch; `careful` examines a batch the store refused request by
  // request. Without it, nothing (and an aborted transaction) when the store
  // refuses the batch.
  std::optional<batch_outcome> run_batch(pqxx::connection& conn, std::size_t max_items,
                                         bool careful);

  std::string queue_;
  std::size_t max_message_bytes_;
  std::string node_id_;
  std::string namespace_suffix_;
  bool start_on_creation_;
  std::uint64_t created_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t archived_ = 0;
};

/// Claims ready tasks for this node and starts the pending ones; every
/// `rescue_interval` it also runs the rescue sweep for stranded steps.
class task_claimer : public batch_processor {
public:
  /// Claims for `node_id` with the configured claim timeout and aging.
  task_claimer(const config::tasker_config& cfg, std::string node_id,
               std::chrono::steady_clock::duration rescue_interval = std::chrono::seconds{5});

  batch_outcome process_batch(pqxx::connection& conn, std::size_t max_items) override;
  std::string name() const override { return "task_claimer"; }
  std::vector<std::string> wake_channels() const override;

  /// Steps rescued since construction.
  std::uint64_t rescued() const { return rescued_; }
  /// Of those, steps whose attempt was given back (in progress across a
  /// restart of the database server).
  std::uint64_t attempts_given_back() const { return given_back_; }

private:
  std::string node_id_;
  int claim_timeout_;
  double aging_seconds_;
  std::chrono::steady_clock::duration rescue_interval_;
  // Empty until the first batch, so a fresh claimer sweeps at once.
  std::optional<std::chrono::steady_clock::time_point> last_rescue_;
  std::uint64_t rescued_ = 0;
  std::uint64_t given_back_ = 0;
};

/// Sends the ready steps of this node's claimed tasks to their namespace
/// queues and marks them enqueued in the same transaction, then releases
/// the claims.
class step_enqueuer : public batch_processor {
public:
  /// Enqueues for tasks claimed by `node_id`.
  step_enqueuer(const config::tasker_config& cfg, std::string node_id);

  batch_outcome process_batch(pqxx::connection& conn, std::size_t max_items) override;
  std::string name() const override { return "step_enqueuer"; }
  std::vector<std::string> wake_channels() const override;

private:
  std::string node_id_;
  std::string namespace_suffix_;
};

/// Applies step results with one set-based call; invalid or unknown results
/// are archived with a reason, duplicates deleted and counted. In the same
/// transaction it advances the tasks the results touched: their newly ready
/// steps are enqueued and the tasks nothing can advance any more are
/// finalized, so a task moves from step to step without waiting for a claim
/// or a finalizer sweep. A touched task another transaction holds, or one
/// another node has claimed, is left to the claim path.
class step_result_processor : public batch_processor {
public:
  /// Consumes `cfg.queues.names.step_results`; archives results over
  /// `cfg.queues.max_message_bytes` unparsed; advances tasks on behalf of `node_id`.
  step_result_processor(const config::tasker_config& cfg, std::string node_id);

  batch_outcome process_batch(pqxx::connection& conn, std::size_t max_items) override;
  std::string name() const override { return "step_result_processor"; }
  std::vector<std::string> wake_channels() const override { return {queue_}; }

  /// Results that changed a step since construction.
  std::uint64_t applied() const { return applied_; }
  /// Duplicate or stale results deleted without effect since construction.
  std::uint64_t duplicates() const { return duplicates_; }
  /// Messages archived since construction.
  std::uint64_t archived() const { return archived_; }
  /// Steps enqueued by advancing touched tasks since construction.
  std::uint64_t dispatched() const { return dispatched_; }
  /// Tasks finalized by advancing touched tasks since construction.
  std::uint64_t finalized() const { return finalized_; }

private:
  std::string queue_;
  std::string node_id_;
  std::string namespace_suffix_;
  std::size_t max_message_bytes_;
  std::uint64_t dispatched_ = 0;
  std::uint64_t finalized_ = 0;
  std::uint64_t applied_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t archived_ = 0;
};

/// Moves finished in-progress tasks to complete or error in one batch.
class task_finalizer : public batch_processor {
public:
  batch_outcome process_batch(pqxx::connection& conn, std::size_t max_items) override;
  std::string name() const override { return "task_finalizer"; }
  std::vector<std::string> wake_channels() const override;
};

} // namespace tasker::actors
