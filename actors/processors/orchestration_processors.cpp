#include "actors/processors/processor_types.hpp"
#include "actors/processors/processors.hpp"
#include "actors/processors/step_dispatch.hpp"

#include "resources/store_claims.hpp"
#include "resources/store_execution.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

namespace tasker::actors {

namespace {

std::int32_t clamp_items(std::size_t max_items) {
  return static_cast<std::int32_t>(
      std::min<std::size_t>(max_items, std::numeric_limits<std::int32_t>::max()));
}

} // namespace

// -- task_claimer ---------------------------------------------------------------

task_claimer::task_claimer(const config::tasker_config& cfg, std::string node_id,
                           std::chrono::steady_clock::duration rescue_interval)
    : node_id_(std::move(node_id)), claim_timeout_(cfg.orchestration.claim_timeout_seconds),
      aging_seconds_(cfg.orchestration.priority_aging_seconds), rescue_interval_(rescue_interval) {}

std::vector<std::string> task_claimer::wake_channels() const {
  return {tasks_ready_channel};
}

batch_outcome task_claimer::process_batch(pqxx::connection& conn, std::size_t max_items) {
  const auto limit = clamp_items(max_items);
  std::size_t rescued = 0;
  const auto now = std::chrono::steady_clock::now();
  if (!last_rescue_ || now - *last_rescue_ >= rescue_interval_) {
    // Its own transaction: a sweep that fails must not cost the claims, and
    // rescued steps become claimable in the claim below.
    pqxx::work tx{conn};
    const auto steps = resources::rescue_stale_steps(tx, limit);
    tx.commit();
    last_rescue_ = now;
    rescued = steps.size();
    rescued_ += rescued;
    if (!steps.empty()) {
      std::size_t lost = 0, retried = 0, failed = 0, given_back = 0;
      for (const auto& s : steps) {
        if (s.attempt_given_back)
          ++given_back;
        else if (s.from == resources::step_state::enqueued)
          ++lost;
        else if (s.to == resources::step_state::error)
          ++failed;
        else
          ++retried;
      }
      given_back_ += given_back;
      spdlog::warn("node {}: rescue sweep: {} step(s) past their timeout: {} enqueued (message "
                   "lost or never taken) and {} in progress (worker died or timed out) back to "
                   "pending, {} in progress with no attempts left to error, {} in progress since "
                   "before a restart of the database server back to pending with the attempt "
                   "given back",
                   node_id_, steps.size(), lost, retried, failed, given_back);
    }
  }
  pqxx::work tx{conn};
  auto claimed =
      resources::claim_and_start_tasks(tx, node_id_, limit, claim_timeout_, aging_seconds_);
  if (!claimed.empty())
    tx.exec_params("SELECT pg_notify($1, '')", std::string{tasks_claimed_channel});
  tx.commit();
  const auto items = claimed.size() + rescued;
  return {items, items > 0, std::nullopt};
}

// -- step_enqueuer --------------------------------------------------------------

step_enqueuer::step_enqueuer(const config::tasker_config& cfg, std::string node_id)
    : node_id_(std::move(node_id)), namespace_suffix_(cfg.queues.names.namespace_suffix) {}

std::vector<std::string> step_enqueuer::wake_channels() const {
  return {tasks_claimed_channel, tasks_ready_channel};
}

batch_outcome step_enqueuer::process_batch(pqxx::connection& conn, std::size_t max_items) {
  pqxx::work tx{conn};
  // Locked until commit: a second enqueuer skips these tasks, and the claim
  // release below happens in the same commit as the sends.
  auto tasks = resources::lock_claimed_tasks(tx, node_id_, clamp_items(max_items));
  if (tasks.empty()) {
    tx.commit();
    return {};
  }
  std::vector<std::string> task_ids;
  for (const auto& t : tasks)
    task_ids.push_back(t.task_uuid);
  resources::release_claims(tx, task_ids, node_id_);
  const auto sent = dispatch_ready_steps(tx, tasks, node_id_, namespace_suffix_).sent;
  tx.commit();
  return {sent, true, std::nullopt};
}

void report_held(const std::vector<resources::held_step>& held) {
  // A namespace queue that does not exist (dropped, or a suffix no worker
  // uses) must not fail the batch, which would hold back every other task in
  // it and, on the result path, the results too. Its steps are held back
  // instead and the error names the queue; they are tried again after the
  // delay, so creating the queue (registering the template) lets them run.
  for (const auto& h : held)
    spdlog::error("enqueue: queue {} does not exist: step {} of task {} waits {} s and is "
                  "tried again (create the queue, e.g. by registering the namespace's "
                  "template, or check queues.namespace_suffix)",
                  h.queue, h.step_uuid, h.task_uuid, missing_queue_delay_seconds);
}

resources::dispatch_result dispatch_ready_steps(pqxx::transaction_base& tx,
                                                const std::vector<resources::locked_task>& tasks,
                                                const std::string& node_id,
                                                const std::string& namespace_suffix,
                                                bool finalize) {
  auto out = resources::dispatch_tasks(tx, tasks, node_id, namespace_suffix, finalize,
                                       missing_queue_delay_seconds);
  report_held(out.held);
  return out;
}

// -- task_finalizer -------------------------------------------------------------

std::vector<std::string> task_finalizer::wake_channels() const {
  return {tasks_ready_channel};
}

batch_outcome task_finalizer::process_batch(pqxx::connection& conn, std::size_t max_items) {
  pqxx::work tx{conn};
  auto finalized = resources::finalize_tasks(tx, clamp_items(max_items));
  tx.commit();
  return {finalized.size(), !finalized.empty(), std::nullopt};
}

// -- factory --------------------------------------------------------------------

std::shared_ptr<batch_processor> make_processor(config::executor_type type,
                                                const config::tasker_config& cfg,
                                                const std::string& node_id) {
  switch (type) {
  case config::executor_type::task_request_processor:
    return std::make_shared<task_request_processor>(cfg, node_id);
  case config::executor_type::task_claimer:
    return std::make_shared<task_claimer>(cfg, node_id);
  case config::executor_type::step_enqueuer:
    return std::make_shared<step_enqueuer>(cfg, node_id);
  case config::executor_type::step_result_processor:
    return std::make_shared<step_result_processor>(cfg, node_id);
  case config::executor_type::task_finalizer:
    return std::make_shared<task_finalizer>();
  }
  throw std::invalid_argument("make_processor: unknown executor type " +
                              std::to_string(static_cast<int>(type)));
}

} // namespace tasker::actors
