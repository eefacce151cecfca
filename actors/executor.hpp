#pragma once
/// The executor actor: a batch loop over one `batch_processor`.
///
/// Loop: lease a connection from the broker → `process_batch` on it → return
/// the lease → record items, busy time, errors and batch latency → schedule the
/// next batch: at once when the batch was full or a `wake` arrived meanwhile,
/// otherwise after the poll interval stretched by backpressure. A full batch
/// also doubles the next one's size up to `max_batch_size`; one that is not
/// full returns it to `batch_size` (coordinator::batch_growth). Every
/// heartbeat interval it sends a `heartbeat` (its state and counters) to the
/// coordinator; a blocked executor cannot, which is how a stuck one is found.
///
/// Pausing: on `pause_batches{true}` the executor finishes the batch in
/// flight and then schedules no more (no lease, no query) while it keeps
/// heartbeating; `pause_batches{false}` runs a batch at once. Wakes received
/// while paused are dropped: the first batch after resuming reads everything.
///
/// Circuit breaking: each executor holds its own `circuit_breaker`, fed by
/// the real outcome of every batch (a thrown exception is a failure, and so is
/// a lease the broker refuses because the database is unreachable). Executors
/// of one type work on the same queue and database, so a failing dependency
/// trips each of their breakers within `failure_threshold` batches; a breaker
/// per executor needs no cross-actor round trip before every batch. While open
/// the executor leases nothing; after the open timeout exactly one probe batch
/// runs.
///
/// Shutdown contract: on `stop_request{graceful=true}` the executor finishes
/// the batch in flight (messages are handled between batches), returns its
/// lease, and quits with `executor_exit::drained`; if it is waiting for a lease
/// it gives the lease back unused as soon as it arrives. A non-graceful stop
/// quits at once (the broker reclaims a lease of a dead holder). The pool kills
/// an executor still draining after its stop timeout. When its recycle budget
/// is reached it sends `recycle_request` to its pool and keeps working until
/// the pool stops it, so no work is lost.
///
/// Fault injection (tests only): with `executor_options::faults` enabled, a
/// batch that did work crashes the executor with the configured probability,
/// after the batch's own transaction and before the lease is returned and the
/// batch recorded. The pool must restart the executor and the broker must
/// reclaim the connection of a dead holder; nothing may be lost or done twice.

#include "coordinator/batch_growth.hpp"
#include "coordinator/circuit_breaker.hpp"
#include "coordinator/health_policy.hpp"
#include "coordinator/pool.hpp"
#include "coordinator/recycle_policy.hpp"
#include "messaging/messages.hpp"

#include <caf/stateful_actor.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace tasker::actors {

/// What one batch did.
struct batch_outcome {
  /// Items processed (messages handled, rows claimed, ...).
  std::size_t items = 0;
  /// Whether the batch changed anything; an idle poll is `false`.
  bool did_work = false;
  /// Set when the batch failed; counts against the circuit breaker.
  std::optional<std::string> error;
};

/// Thrown from `process_batch` for an error a retry would repeat (e.g. a
/// missing table): the executor returns its lease and quits with
/// `executor_exit::fatal` instead of looping on it.
class fatal_batch_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The work of one executor type, run one batch at a time on a leased connection.
class batch_processor {
public:
  virtual ~batch_processor() = default;

  /// Runs one batch of at most `max_items` on `conn`, committing its own work.
  virtual batch_outcome process_batch(pqxx::connection& conn, std::size_t max_items) = 0;

  /// A name for logs and status output.
  virtual std::string name() const = 0;

  /// Queue names whose notifications should wake this executor early.
  virtual std::vector<std::string> wake_channels() const { return {}; }
};

/// Makes a fresh processor for each executor a pool spawns.
using processor_factory = std::function<std::shared_ptr<batch_processor>()>;

/// Test-only crash injection, read once at node start from
/// TASKER_FAULT_BATCH_FAILURE_RATE (and TASKER_FAULT_SEED); off by default.
struct fault_injection {
  /// Probability (0..1) that a batch which did work crashes its executor; 0 disables.
  double batch_failure_rate = 0.0;
  /// Seed of the draws; each executor mixes in its actor id.
  std::uint64_t seed = 1;
  /// An executor younger than this never crashes, so injected crashes stay
  /// within a pool's restart intensity (3 restarts in 5 s) instead of
  /// failing the pool: a crash loop is a different fault.
  caf::timespan min_age{std::chrono::seconds{2}};

  /// True when crashes are injected at all.
  bool enabled() const noexcept { return batch_failure_rate > 0.0; }
};

/// The injection the environment asks for: `rate` is the text of
/// TASKER_FAULT_BATCH_FAILURE_RATE and `seed` of TASKER_FAULT_SEED (either may
/// be null). Throws std::invalid_argument naming the variable and the value
/// when a value is not a number in range.
fault_injection fault_injection_from(const char* rate, const char* seed);

/// Per-type executor tuning.
struct executor_options {
  /// Items per batch before backpressure.
  std::size_t batch_size = 10;
  /// Under a backlog a full batch doubles the next one, up to this many
  /// items (coordinator::batch_growth); at or below batch_size, no growth.
  std::size_t max_batch_size = 0;
  /// Wait after a batch that was not full, before backpressure.
  caf::timespan poll_interval{std::chrono::milliseconds{100}};
  /// How often heartbeats and metrics go to the coordinator.
  caf::timespan heartbeat_interval{std::chrono::seconds{5}};
  /// How long one lease request may wait in the broker's queue.
  caf::timespan lease_timeout{std::chrono::seconds{5}};
  /// Whether the circuit breaker guards the batches.
  bool breaker_enabled = true;
  /// The breaker's thresholds.
  coordinator::breaker_settings breaker;
  /// Thresholds for the executor's own Healthy/Degraded evaluation.
  coordinator::health_settings health;
  /// When the executor asks to be replaced.
  coordinator::recycle_settings recycle;
  /// Test-only crash injection; disabled unless the environment enables it.
  fault_injection faults;
};

/// The executor's state; see the file comment for the loop.
struct executor_actor_state {
  executor_options options;
  coordinator::spawn_context context;
  std::shared_ptr<batch_processor> processor;
  coordinator::circuit_breaker breaker;
  coordinator::health_policy health;
  coordinator::recycle_policy recycle;
  coordinator::batch_growth growth{1, 0};
  coordinator::health_state state = coordinator::health_state::starting;
  std::string state_reason;
  double backpressure = 1.0;
  caf::actor_clock::time_point started_at{};
  // Only engaged when crash injection is enabled.
  std::optional<std::mt19937_64> fault_rng;
  // Loop bookkeeping: a scheduled batch carries the generation it was
  // scheduled in; a wake bumps it so the older timer is ignored.
  std::uint64_t generation = 0;
  bool lease_pending = false;
  bool wake_pending = false;
  bool stopping = false;
  bool paused = false;
  bool recycle_requested = false;
  // Totals since spawn.
  std::uint64_t items = 0;
  std::uint64_t errors = 0;
  std::uint64_t batches = 0;
  caf::timespan last_batch_latency{0};
  // Since the last report.
  caf::actor_clock::time_point last_report{};
  caf::timespan busy{0};
  caf::timespan latency_sum{0};
  caf::timespan max_latency{0};
  std::uint64_t window_batches = 0;
  std::uint64_t window_errors = 0;

  /// Name under which CAF reports this actor.
  static inline const char* name = "tasker.executor";
};

/// The executor's behavior.
caf::behavior executor(caf::stateful_actor<executor_actor_state>* self,
                       executor_options options, coordinator::spawn_context context,
                       std::shared_ptr<batch_processor> processor);

/// A pool factory spawning executors over processors from `make_processor`,
/// detached or on the scheduler as the spawn context says.
coordinator::executor_factory make_executor_factory(executor_options options,
                                                    processor_factory make_processor);

} // namespace tasker::actors
