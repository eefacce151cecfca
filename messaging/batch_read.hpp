#pragma once
/// The first half of every queue consumer's batch: read messages, refuse the
/// oversized ones unparsed, parse the rest, and collect the refused ones as
/// archive entries, each with its own reason. What to do with the parsed
/// messages, and when to archive the refused ones, is the caller's.

#include "messaging/queue_client.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace tasker::messaging {

/// The body of `m` as sent: the stored JSON re-serialized, or the raw text
/// when the stored JSON could not be represented (the parser then reports why).
std::string message_text(const queue_message& m);

/// One batch as read_parsed_batch returns it.
template <class T>
struct parsed_batch {
  std::size_t read = 0;               ///< messages read, refused ones included
  std::vector<std::int64_t> ids;      ///< the message of each element of `items`
  std::vector<T> items;               ///< parsed messages, in read order
  std::vector<archive_entry> invalid; ///< refused messages with their reasons
};

namespace detail {

/// read_parsed_batch without the element type: `accept(msg_id, text)` parses
/// and keeps one message, or throws to refuse it.
std::size_t read_checked(pqxx::transaction_base& tx, std::string_view queue, int vt_seconds,
                         std::size_t max_items, std::size_t max_bytes, std::string_view kind,
                         const std::function<void(std::int64_t, const std::string&)>& accept,
                         std::vector<archive_entry>& invalid);

} // namespace detail

/// Reads up to `max_items` messages of `queue` (queue_client::read, hidden
/// for `vt_seconds`) and parses each body with `parse(text)`. A body over
/// `max_bytes` is refused before parsing with "<kind>: " + oversize_reason;
/// a wire_error refuses a message with its own text, a JSON exception with
/// "<kind>: invalid JSON: <what>". `kind` names the message type, e.g.
/// "task_request".
template <class Parse>
auto read_parsed_batch(pqxx::transaction_base& tx, std::string_view queue, int vt_seconds,
                       std::size_t max_items, std::size_t max_bytes, std::string_view kind,
                       Parse&& parse)
    -> parsed_batch<std::decay_t<std::invoke_result_t<Parse&, const std::string&>>> {
  parsed_batch<std::decay_t<std::invoke_result_t<Parse&, const std::string&>>> batch;
  batch.read = detail::read_checked(
      tx, queue, vt_seconds, max_items, max_bytes, kind,
      [&](std::int64_t msg_id, const std::string& text) {
        batch.items.push_back(parse(text));
        batch.ids.push_back(msg_id);
      },
      batch.invalid);
  return batch;
}

} // namespace tasker::messaging
