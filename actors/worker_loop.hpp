#pragma once
/// The work of one worker actor, without the actor: read step messages from a
/// namespace queue, claim their steps, run the handlers, post the results.
///
/// Delivery is at-least-once. A claim reads a batch, moves its steps enqueued
/// → in_progress and consumes their messages in one statement; the results
/// are sent to the results queue later. A worker that dies in between leaves
/// its steps in_progress, and the rescue sweep returns them after their
/// timeout. A message whose step is no longer `enqueued` (complete, cancelled,
/// or already taken by an earlier delivery) is deleted without running
/// anything; one that cannot be parsed or names no known step is archived
/// with the reason.

#include "actors/claim_size.hpp"
#include "actors/handlers/handler_registry.hpp"
#include "actors/work_doorbell.hpp"
#include "actors/worker_options.hpp"
#include "messaging/queue_client.hpp"

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tasker::actors {

/// Totals of a worker group, shared by its actors (updated lock-free so a
/// status query never waits for a worker busy in a step).
struct worker_counters {
  std::atomic<std::uint64_t> claims{0};     ///< reads of the queue, empty ones included
  std::atomic<std::uint64_t> steps_run{0};  ///< handlers run, results posted
  std::atomic<std::uint64_t> failures{0};   ///< of those, failed results
  std::atomic<std::uint64_t> duplicates{0}; ///< messages deleted: step not enqueued
  std::atomic<std::uint64_t> archived{0};   ///< malformed messages archived
  std::atomic<std::uint64_t> errors{0};     ///< batches that failed (e.g. lost connection)
};

/// Visibility margin added to a step's timeout, so a step that runs to its
/// timeout still posts its result before the message reappears.
inline constexpr int visibility_margin_seconds = 30;

/// Longest a finished step's result waits for the results of the steps after
/// it in the same batch before the group is posted.
inline constexpr std::chrono::milliseconds result_flush_window{5};

/// A worker actor claims as many steps as it expects to run within this
/// time, at the pace of its recent steps, up to worker_options::batch_size
/// (see claim_size).
inline constexpr std::chrono::milliseconds claim_horizon{20};

/// Who ran a step: id, host and process, for the result's `worker` field.
messaging::worker_info make_worker_info(const std::string& id);

/// The claim statement of namespace queue `queue` (a validated identifier),
/// which every worker actor prepares: parameters $1 batch size, $2 visibility
/// timeout (0: from the steps' timeouts), $3 history metadata, $4 default step
/// timeout, $5 visibility margin. It commits without waiting for the WAL flush
/// (resources::commit_without_flush).
std::string claim_statement_sql(const std::string& queue);

/// One worker's loop body, bound to its own connections. Not thread-safe: one
/// thread (one detached actor) drives it.
class step_worker {
public:
  /// Connects its work connection; throws pqxx errors when the database
  /// cannot be reached and std::invalid_argument for a bad namespace. Waits for
  /// work on `doorbell`, shared by the actors of its group.
  step_worker(worker_options opts, std::shared_ptr<const handler_registry> handlers,
              std::string worker_id, std::shared_ptr<worker_counters> counters,
              std::shared_ptr<work_doorbell> doorbell);
  ~step_worker();
  step_worker(const step_worker&) = delete;
  step_worker& operator=(const step_worker&) = delete;

  /// Reads up to claim_size::next() messages (at most batch_size) and starts
  /// their steps in one statement outside a transaction block, then handles
  /// each, recording their run time in the claim size; returns how many were
  /// read. Results of quick handlers are posted in groups: the results waiting
  /// are sent (and their messages deleted) in one transaction before the next
  /// step runs when the previous step took at least a fifth of
  /// result_flush_window or the oldest has waited result_flush_window, and at
  /// the end of the batch; so fast handlers cost one commit per group, and a
  /// slow handler never holds back the results before it. Throws pqxx
  /// errors (lost connection...): whatever was not committed is delivered
  /// again later.
  std::size_t run_batch();

  /// Whether the last claim read as many messages as it asked for: only then
  /// may more be waiting. After a claim that read fewer, the queue was empty
  /// of visible messages, and a later send raises a notification (kept on
  /// the group's connection while no actor listens), so the actor waits for
  /// work instead of reading the queue again.
  bool last_claim_full() const noexcept { return last_claim_full_; }

  /// Blocks until a send to the queue is notified, another actor of the group
  /// rang (it read a full batch), or the poll interval passed.
  void wait_for_work();

  /// The queue consumed.
  const std::string& queue() const noexcept { return queue_; }

private:
  struct claimed_step {
    std::int64_t msg_id = 0;
    messaging::step_message step;
    bool consumed = false; ///< deleted by the claim; otherwise deleted with the result
  };
  std::vector<claimed_step> claim_batch();
  messaging::step_result run_step(const claimed_step& c) const;
  struct finished_step {
    const claimed_step* claimed = nullptr;
    messaging::step_result result;
  };
  void post_results(std::vector<finished_step>& finished);

  worker_options opts_;
  std::shared_ptr<const handler_registry> handlers_;
  std::shared_ptr<worker_counters> counters_;
  messaging::worker_info info_;
  std::string queue_;
  pqxx::connection work_;
  bool last_claim_full_ = false;
  std::shared_ptr<work_doorbell> doorbell_;
  std::string claim_statement_; ///< the claim's prepared statement on work_
  claim_size claim_size_;
};

} // namespace tasker::actors
