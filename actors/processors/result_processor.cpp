#include "actors/processors/processor_types.hpp"
#include "actors/processors/processors.hpp"
#include "actors/processors/step_dispatch.hpp"

#include "messaging/batch_read.hpp"
#include "messaging/wire.hpp"
#include "resources/store_execution.hpp"

#include <limits>
#include <stdexcept>

namespace tasker::actors {

using resources::result_outcome;

step_result_processor::step_result_processor(const config::tasker_config& cfg,
                                             std::string node_id)
    : queue_(cfg.queues.names.step_results), node_id_(std::move(node_id)),
      namespace_suffix_(cfg.queues.names.namespace_suffix),
      max_message_bytes_(static_cast<std::size_t>(cfg.queues.max_message_bytes)) {}

batch_outcome step_result_processor::process_batch(pqxx::connection& conn, std::size_t max_items) {
  pqxx::work tx{conn};
  // The batch is consumed by this transaction: a failure rolls it back whole.
  // Task rows before step rows, in a fixed order (as enqueuers and claimers);
  // then the tasks whose steps changed state are locked for advancing, their
  // next steps sent and what nothing can advance any more finalized. What
  // the batch cannot advance (another transaction holds the task, or another
  // node's live claim) is left to the claim path, which the call wakes.
  // Plain results (every result a worker of this project sends) take one
  // statement from the queue to the store; a batch with any other body comes
  // back unapplied and is read with the wire parser first.
  const int qty =
      static_cast<int>(std::min<std::size_t>(max_items, std::numeric_limits<int>::max()));
  auto taken = resources::take_results_and_dispatch(tx, queue_, qty, max_message_bytes_, node_id_,
                                                    namespace_suffix_,
                                                    missing_queue_delay_seconds);
  if (taken.read == 0) {
    tx.commit();
    return {};
  }

  std::vector<messaging::archive_entry> invalid;
  // Every consumed result is applied, recognised as a repeat or archived.
  auto count = [&](const resources::applied_and_dispatched& applied, std::size_t expected,
                   auto&& msg_id_of) {
    // One the store did not answer for would be lost, so the batch rolls back.
    if (applied.results.size() != expected)
      throw std::logic_error("step results: the store answered for " +
                             std::to_string(applied.results.size()) + " of " +
                             std::to_string(expected) + " results of a batch");
    for (const auto& r : applied.results) {
      switch (r.outcome) {
      case result_outcome::unknown_step:
        invalid.push_back({msg_id_of(r), "step_result: " + r.detail});
        break;
      case result_outcome::duplicate:
      case result_outcome::stale:
        ++duplicates_;
        break;
      default:
        ++applied_;
      }
    }
    report_held(applied.dispatch.held);
    dispatched_ += applied.dispatch.sent;
    finalized_ += applied.dispatch.finalized.size();
  };

  if (taken.unchecked.empty()) {
    count(taken.applied, taken.read, [](const resources::applied_result& r) { return r.msg_id; });
    if (!invalid.empty())
      archived_ += messaging::queue_client::archive_consumed(tx, queue_, taken.unknown, invalid)
                       .size();
  } else {
    ++examined_batches_;
    // Re-encoding the parsed result hands SQL only validated, normalized fields.
    auto parsed = messaging::parse_consumed_batch(
        std::move(taken.unchecked), queue_, max_message_bytes_, "step_result",
        [this](const std::string& text) {
          return messaging::parse_step_result_text(text, max_message_bytes_).to_json();
        });
    invalid = std::move(parsed.invalid);
    if (!parsed.items.empty()) {
      nlohmann::json batch = nlohmann::json::array();
      for (auto& r : parsed.items)
        batch.push_back(std::move(r));
      auto applied = resources::apply_results_and_dispatch(tx, batch, node_id_, namespace_suffix_,
                                                           missing_queue_delay_seconds);
      count(applied, parsed.items.size(), [&](const resources::applied_result& r) {
        return parsed.ids.at(static_cast<std::size_t>(r.ordinal));
      });
    }
    if (!invalid.empty()) {
      parsed.invalid = std::move(invalid);
      archived_ += messaging::archive_refused(tx, queue_, parsed);
    }
  }
  tx.commit();
  return {taken.read, true, std::nullopt};
}

} // namespace tasker::actors
