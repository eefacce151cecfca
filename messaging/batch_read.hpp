#pragma once
/// The first half of every processor's batch: consume messages, refuse the
/// oversized ones unparsed, parse the rest, and collect the refused ones as
/// archive entries, each with its own reason. What to do with the parsed
/// messages is the caller's; so is archiving the refused ones
/// (archive_refused) before its transaction commits.

#include "messaging/queue_client.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace tasker::messaging {

/// One batch as read_parsed_batch returns it.
template <class T>
struct parsed_batch {
  std::size_t read = 0;               ///< messages consumed, refused ones included
  std::vector<std::int64_t> ids;      ///< the message of each element of `items`
  std::vector<T> items;               ///< parsed messages, in read order
  std::vector<archive_entry> invalid; ///< refused messages with their reasons
  std::vector<consumed_message> consumed; ///< every message consumed, as stored
};

namespace detail {

/// read_parsed_batch without the element type: `accept(msg_id, text)` parses
/// and keeps one message, or throws to refuse it.
std::vector<consumed_message>
read_checked(pqxx::transaction_base& tx, std::string_view queue, std::size_t max_items,
             std::size_t max_bytes, std::string_view kind,
             const std::function<void(std::int64_t, const std::string&)>& accept,
             std::vector<archive_entry>& invalid);

} // namespace detail

/// Consumes up to `max_items` messages of `queue` (queue_client::consume: the
/// batch is the transaction's; a rollback returns it) and parses each body
/// with `parse(text)`. A body over
/// `max_bytes` is refused before parsing with "<kind>: " + oversize_reason;
/// a wire_error refuses a message with its own text, a JSON exception with
/// "<kind>: invalid JSON: <what>". `kind` names the message type, e.g.
/// "task_request".
template <class Parse>
auto read_parsed_batch(pqxx::transaction_base& tx, std::string_view queue, std::size_t max_items,
                       std::size_t max_bytes, std::string_view kind, Parse&& parse)
    -> parsed_batch<std::decay_t<std::invoke_result_t<Parse&, const std::string&>>> {
  parsed_batch<std::decay_t<std::invoke_result_t<Parse&, const std::string&>>> batch;
  batch.consumed = detail::read_checked(
      tx, queue, max_items, max_bytes, kind,
      [&](std::int64_t msg_id, const std::string& text) {
        batch.items.push_back(parse(text));
        batch.ids.push_back(msg_id);
      },
      batch.invalid);
  batch.read = batch.consumed.size();
  return batch;
}

/// Archives `batch.invalid` (plus what the caller added to it) from the
/// consumed messages; returns how many were archived.
template <class T>
std::size_t archive_refused(pqxx::transaction_base& tx, std::string_view queue,
                            const parsed_batch<T>& batch) {
  return queue_client::archive_consumed(tx, queue, batch.consumed, batch.invalid).size();
}

} // namespace tasker::messaging
