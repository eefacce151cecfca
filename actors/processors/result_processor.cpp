#include "actors/processors/processor_types.hpp"

#include "messaging/queue_client.hpp"
#include "messaging/wire.hpp"
#include "resources/store_execution.hpp"

#include <limits>

namespace tasker::actors {

using messaging::archive_entry;
using messaging::queue_client;
using resources::result_outcome;

step_result_processor::step_result_processor(const config::tasker_config& cfg)
    : queue_(cfg.queues.names.step_results),
      visibility_timeout_(cfg.queues.visibility_timeout_seconds) {}

batch_outcome step_result_processor::process_batch(pqxx::connection& conn, std::size_t max_items) {
  pqxx::work tx{conn};
  const int qty =
      static_cast<int>(std::min<std::size_t>(max_items, std::numeric_limits<int>::max()));
  auto messages = queue_client::read(tx, queue_, visibility_timeout_, qty);
  if (messages.empty()) {
    tx.commit();
    return {};
  }

  std::vector<archive_entry> invalid;
  std::vector<std::int64_t> ids; // message of each element of `batch`
  nlohmann::json batch = nlohmann::json::array();
  for (const auto& m : messages) {
    try {
      // Re-encoding the parsed result hands SQL only validated, normalized fields.
      batch.push_back(
          messaging::parse_step_result_text(m.parsed() ? m.message.dump() : m.raw_message)
              .to_json());
      ids.push_back(m.msg_id);
    } catch (const messaging::wire_error& e) {
      invalid.push_back({m.msg_id, e.what()});
    } catch (const nlohmann::json::exception& e) {
      // e.g. a number beyond double range: legal in jsonb, not representable here
      invalid.push_back({m.msg_id, std::string{"step_result: invalid JSON: "} + e.what()});
    }
  }

  std::vector<std::int64_t> done;
  for (const auto& r : resources::apply_step_results(tx, batch)) {
    const auto msg_id = ids.at(static_cast<std::size_t>(r.ordinal));
    switch (r.outcome) {
    case result_outcome::unknown_step:
      invalid.push_back({msg_id, "step_result: " + r.detail});
      break;
    case result_outcome::duplicate:
    case result_outcome::stale:
      ++duplicates_;
      done.push_back(msg_id);
      break;
    default:
      ++applied_;
      done.push_back(msg_id);
    }
  }

  if (!done.empty())
    queue_client::remove(tx, queue_, done);
  if (!invalid.empty())
    archived_ += queue_client::archive(tx, queue_, invalid).size();
  tx.commit();
  return {messages.size(), true, std::nullopt};
}

} // namespace tasker::actors
