#include "messaging/batch_read.hpp"

#include "messaging/wire.hpp"

#include <algorithm>
#include <limits>

namespace tasker::messaging {

std::string message_text(const queue_message& m) {
  return m.parsed() ? m.message.dump() : m.raw_message;
}

namespace detail {

std::size_t read_checked(pqxx::transaction_base& tx, std::string_view queue, int vt_seconds,
                         std::size_t max_items, std::size_t max_bytes, std::string_view kind,
                         const std::function<void(std::int64_t, const std::string&)>& accept,
                         std::vector<archive_entry>& invalid) {
  const int qty =
      static_cast<int>(std::min<std::size_t>(max_items, std::numeric_limits<int>::max()));
  const auto messages = queue_client::read(tx, queue, vt_seconds, qty);
  const std::string prefix = std::string{kind} + ": ";
  for (const auto& m : messages) {
    try {
      auto text = message_text(m);
      // Refused before parsing: an oversized message never reaches the parser.
      if (auto too_large = oversize_reason(queue, m.msg_id, text.size(), max_bytes)) {
        invalid.push_back({m.msg_id, prefix + *too_large});
        continue;
      }
      accept(m.msg_id, text);
    } catch (const wire_error& e) {
      invalid.push_back({m.msg_id, e.what()});
    } catch (const nlohmann::json::exception& e) {
      // e.g. a number beyond double range: legal in jsonb, not representable here
      invalid.push_back({m.msg_id, prefix + "invalid JSON: " + e.what()});
    }
  }
  return messages.size();
}

} // namespace detail

} // namespace tasker::messaging
