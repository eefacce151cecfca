#include "actors/processors/processor_types.hpp"
#include "actors/processors/processors.hpp"
#include "actors/processors/step_dispatch.hpp"

#include "messaging/batch_read.hpp"
#include "messaging/wire.hpp"
#include "resources/store_execution.hpp"

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
  // Re-encoding the parsed result hands SQL only validated, normalized fields.
  auto parsed = messaging::read_parsed_batch(
      tx, queue_, max_items, max_message_bytes_, "step_result",
      [this](const std::string& text) {
        return messaging::parse_step_result_text(text, max_message_bytes_).to_json();
      });
  if (parsed.read == 0) {
    tx.commit();
    return {};
  }
  auto& invalid = parsed.invalid;
  const auto& ids = parsed.ids; // message of each element of `batch`
  nlohmann::json batch = nlohmann::json::array();
  for (auto& r : parsed.items)
    batch.push_back(std::move(r));

  // Task rows before step rows, in a fixed order (as enqueuers and claimers);
  // then the tasks whose steps changed state are locked for advancing, their
  // next steps sent and what nothing can advance any more finalized, all in
  // one call. What the batch cannot advance (another transaction holds the
  // task, or another node's live claim) is left to the claim path, which the
  // call wakes.
  auto applied = resources::apply_results_and_dispatch(tx, batch, node_id_, namespace_suffix_,
                                                       missing_queue_delay_seconds);
  // Every consumed result is applied, recognised as a repeat or archived:
  // one the store did not answer for would be lost, so the batch rolls back.
  if (applied.results.size() != parsed.items.size())
    throw std::logic_error("step results: the store answered for " +
                           std::to_string(applied.results.size()) + " of " +
                           std::to_string(parsed.items.size()) + " results of a batch");
  for (const auto& r : applied.results) {
    const auto msg_id = ids.at(static_cast<std::size_t>(r.ordinal));
    switch (r.outcome) {
    case result_outcome::unknown_step:
      invalid.push_back({msg_id, "step_result: " + r.detail});
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

  if (!invalid.empty())
    archived_ += messaging::archive_refused(tx, queue_, parsed);
  tx.commit();
  return {parsed.read, true, std::nullopt};
}

} // namespace tasker::actors
