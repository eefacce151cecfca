#include "messaging/batch_read.hpp"

#include "messaging/wire.hpp"

#include <algorithm>
#include <limits>

namespace tasker::messaging {

namespace detail {

std::vector<consumed_message>
read_checked(pqxx::transaction_base& tx, std::string_view queue, std::size_t max_items,
             std::size_t max_bytes, std::string_view kind,
             const std::function<void(std::int64_t, const std::string&)>& accept,
             std::vector<archive_entry>& invalid) {
  const int qty =
      static_cast<int>(std::min<std::size_t>(max_items, std::numeric_limits<int>::max()));
  auto messages = queue_client::consume(tx, queue, qty);
  const std::string prefix = std::string{kind} + ": ";
  for (const auto& m : messages) {
    try {
      // Refused before parsing: an oversized message never reaches the parser.
      if (auto too_large = oversize_reason(queue, m.msg_id, m.body.size(), max_bytes)) {
        invalid.push_back({m.msg_id, prefix + *too_large});
        continue;
      }
      accept(m.msg_id, m.body);
    } catch (const wire_error& e) {
      invalid.push_back({m.msg_id, e.what()});
    } catch (const nlohmann::json::exception& e) {
      // e.g. a number beyond double range: legal in jsonb, not representable here
      invalid.push_back({m.msg_id, prefix + "invalid JSON: " + e.what()});
    }
  }
  return messages;
}

} // namespace detail

} // namespace tasker::messaging
