#pragma once
/// Options of a worker group (see actors/worker.hpp).

#include "messaging/wire.hpp"

#include <chrono>
#include <cstddef>
#include <string>

namespace tasker::actors {

/// How a worker group consumes one namespace queue.
struct worker_options {
  /// libpq URL of the database holding the queues and the task store.
  std::string database_url;
  /// The namespace whose queue is consumed (an SQL identifier).
  std::string namespace_name;
  /// Worker actors, each with its own connection, plus one LISTEN connection
  /// the group shares (actors/work_doorbell.hpp).
  std::size_t concurrency = 4;
  /// Where step results go.
  std::string step_results_queue = "orchestration_step_results";
  /// The namespace queue is `<namespace_name><namespace_suffix>`.
  std::string namespace_suffix = "_queue";
  /// Fallback wait between reads when no NOTIFY arrives.
  std::chrono::milliseconds poll_interval{500};
  /// Most messages a worker actor claims (and then runs one after another) at
  /// once; it claims fewer while it does not know its handlers' pace or they
  /// are slow (see actors/claim_size.hpp).
  std::size_t batch_size = 200;
  /// How long a message the claim keeps (does not consume: see
  /// docs/handlers.md) stays hidden. 0: long enough for every step read in the
  /// batch to run to its timeout_seconds, plus a margin.
  int visibility_timeout_seconds = 0;
  /// Largest step result a worker sends, in bytes of JSON text
  /// (queues.max_message_bytes, which the result processor enforces too): a
  /// larger result is sent as a non-retryable failure naming the limit.
  std::size_t max_message_bytes = messaging::default_max_message_bytes;
};

/// The namespace queue the options name; throws std::invalid_argument naming
/// the namespace when it or the resulting queue name is not a valid identifier.
std::string namespace_queue_name(const worker_options& opts);

} // namespace tasker::actors
