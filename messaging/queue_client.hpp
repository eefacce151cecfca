#pragma once
/// The client of Tasker's PostgreSQL message queues (schema `tasker_mq`, created
/// by resources/sql/migrations/0002_queues.sql): send, read with a visibility
/// timeout, delete, archive with a reason, redrive, metrics.
///
/// Every call runs inside the caller's transaction, so a producer can enqueue
/// messages and change its own rows atomically, and a consumer can delete what
/// it processed in the same commit as its results. Nothing here commits.
///
/// Delivery is at-least-once: a message read but neither deleted nor archived
/// before its visibility timeout is delivered again, with read_ct incremented.

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tasker::messaging {

/// One message as read from a queue. Its content is returned as stored:
/// validating it against a wire schema is the consumer's job.
struct queue_message {
  std::int64_t msg_id = 0;  ///< unique within the queue, ascending in send order
  std::int32_t read_ct = 0; ///< deliveries so far, this one included
  std::string enqueued_at;  ///< timestamptz text as PostgreSQL prints it
  std::string vt;           ///< hidden until this time (timestamptz text)
  nlohmann::json message;   ///< the body; `is_discarded()` when it cannot be parsed, see raw
  nlohmann::json headers;   ///< null when sent without headers; discarded like message
  std::string raw_message;  ///< the body's JSON text, kept only when `message` is discarded

  /// False when the stored JSON could not be represented (e.g. a number beyond
  /// double range, legal in jsonb): the consumer should archive it with a reason.
  bool parsed() const noexcept { return !message.is_discarded(); }
};

/// One message as consume() took it: the stored text, unparsed, so a consumer
/// parses each body once and can archive it exactly as it was sent.
struct consumed_message {
  std::int64_t msg_id = 0;
  std::int32_t read_ct = 0; ///< deliveries, this one included
  std::string enqueued_at;  ///< timestamptz text as PostgreSQL prints it
  std::string vt;           ///< the visibility time it had (timestamptz text)
  std::string body;         ///< the body's JSON text as stored
  std::string headers;      ///< the headers' JSON text; empty when sent without headers
};

/// One archived (dead-lettered) message.
struct archived_message {
  std::int64_t msg_id = 0;
  std::int32_t read_ct = 0; ///< deliveries before it was archived
  std::string enqueued_at;
  std::string vt;
  nlohmann::json message; ///< as in queue_message; raw_message set when discarded
  nlohmann::json headers;
  std::string raw_message;
  std::string archived_at;
  std::string reason; ///< why it was archived; never empty
};

/// A message to archive with its own reason (see queue_client::archive).
struct archive_entry {
  std::int64_t msg_id = 0;
  std::string reason;
};

/// A queue as listed by queue_client::list_queues.
struct queue_info {
  std::string name;
  std::string created_at;
};

/// The state of one queue at one instant.
struct queue_metrics {
  std::string queue_name;
  std::int64_t queue_length = 0;        ///< messages in the queue, in flight included
  std::int64_t visible_length = 0;      ///< of those, readable now
  double oldest_msg_age_seconds = 0;    ///< 0 for an empty queue
  double newest_msg_age_seconds = 0;    ///< 0 for an empty queue
  std::int64_t total_messages_sent = 0; ///< ids handed out by the queue's sequence (see SQL)
};

/// The LISTEN/NOTIFY channel a send to `queue` notifies: "tasker_mq_" + queue.
/// Throws std::invalid_argument for an invalid queue name.
std::string notify_channel(std::string_view queue);

/// Defines (lazily: PostgreSQL sees them on first use) every statement the
/// queue client runs on `conn`. Idempotent and cheap, so calling it for each
/// new connection is optional: every queue_client call does it for the one
/// statement it needs.
void prepare_queue_statements(pqxx::connection_base& conn);

/// Stateless: every function validates the queue name (^[a-z][a-z0-9_]{0,47}$)
/// and its numeric arguments before any SQL runs, throwing std::invalid_argument
/// naming the queue; errors from PostgreSQL (e.g. a queue that does not exist)
/// surface as pqxx::sql_error and leave the caller's transaction aborted.
///
/// Use READ COMMITTED transactions (pqxx::work's default): under REPEATABLE
/// READ or SERIALIZABLE, a read racing another reader fails with a
/// serialization error instead of skipping the contended message.
class queue_client {
public:
  queue_client() = delete;

  // -- queue lifecycle ------------------------------------------------------

  /// Creates the queue's tables; does nothing when it exists.
  static void create_queue(pqxx::transaction_base& tx, std::string_view queue);

  /// Drops the queue, its messages and its archive; false when it did not exist.
  static bool drop_queue(pqxx::transaction_base& tx, std::string_view queue);

  /// Every queue, by name.
  static std::vector<queue_info> list_queues(pqxx::transaction_base& tx);

  // -- producing ------------------------------------------------------------

  /// Enqueues one message, readable after `delay_seconds`; returns its msg_id.
  /// Throws std::invalid_argument when `message` cannot be serialized (e.g. a
  /// string that is not UTF-8).
  static std::int64_t send(pqxx::transaction_base& tx, std::string_view queue,
                           const nlohmann::json& message, int delay_seconds = 0);

  /// Enqueues every message in one INSERT; returns their msg_ids in order.
  static std::vector<std::int64_t> send_batch(pqxx::transaction_base& tx, std::string_view queue,
                                              const std::vector<nlohmann::json>& messages,
                                              int delay_seconds = 0);

  /// In one statement: enqueues `messages` on `to` (as send_batch, readable
  /// now) and deletes `msg_ids` from `from` (as remove); returns the new
  /// msg_ids in order. One statement is atomic on its own, so a caller that
  /// has nothing else to do can run it outside a transaction block (e.g. on a
  /// pqxx::nontransaction) and save the BEGIN and COMMIT round trips: a
  /// worker posting results for the step messages it consumed.
  static std::vector<std::int64_t> send_batch_and_remove(
      pqxx::transaction_base& tx, std::string_view to, const std::vector<nlohmann::json>& messages,
      std::string_view from, const std::vector<std::int64_t>& msg_ids);

  /// send_batch and send_batch_and_remove for bodies the caller serialized
  /// already, each the text of one JSON value as nlohmann::json::dump() writes
  /// it (a caller that measures a body's size need not serialize it twice).
  /// PostgreSQL refuses text that is not JSON, and the statement with it.
  static std::vector<std::int64_t> send_serialized_batch(pqxx::transaction_base& tx,
                                                         std::string_view queue,
                                                         const std::vector<std::string>& bodies,
                                                         int delay_seconds = 0);
  static std::vector<std::int64_t> send_serialized_batch_and_remove(
      pqxx::transaction_base& tx, std::string_view to, const std::vector<std::string>& bodies,
      std::string_view from, const std::vector<std::int64_t>& msg_ids);

  // -- consuming ------------------------------------------------------------

  /// Takes up to `qty` visible messages (oldest first) and hides them for
  /// `vt_seconds`. Concurrent readers never get the same message: rows locked
  /// by another reader are skipped, not waited for.
  static std::vector<queue_message> read(pqxx::transaction_base& tx, std::string_view queue,
                                         int vt_seconds, int qty);

  /// Takes up to `qty` visible messages (oldest first) out of the queue in
  /// one statement: locked and deleted, no visibility timeout. For a consumer
  /// that processes a batch in the transaction that reads it: a commit
  /// consumes the messages, a rollback (or a crash) puts them back untouched
  /// and readable at once. Concurrent consumers skip each other's messages as
  /// readers do. Whatever the consumer refuses it must hand to
  /// archive_consumed in the same transaction, or it is gone at commit.
  static std::vector<consumed_message> consume(pqxx::transaction_base& tx, std::string_view queue,
                                               int qty);

  /// Puts messages this transaction consumed into the queue's archive, each
  /// with its own non-empty reason and exactly as consume() returned it;
  /// returns the ids archived. Every entry must name a message of `consumed`.
  static std::vector<std::int64_t> archive_consumed(pqxx::transaction_base& tx,
                                                    std::string_view queue,
                                                    const std::vector<consumed_message>& consumed,
                                                    const std::vector<archive_entry>& entries);

  /// Deletes messages (pgmq's `delete`); returns the ids that were in the queue.
  static std::vector<std::int64_t> remove(pqxx::transaction_base& tx, std::string_view queue,
                                          const std::vector<std::int64_t>& msg_ids);

  /// Moves messages to the queue's archive with one (non-empty) reason;
  /// returns the ids moved. Ids not in the queue are ignored.
  static std::vector<std::int64_t> archive(pqxx::transaction_base& tx, std::string_view queue,
                                           const std::vector<std::int64_t>& msg_ids,
                                           std::string_view reason);

  /// Moves messages to the archive, each with its own non-empty reason (so a
  /// batch of invalid messages keeps every diagnosis); returns the ids moved.
  static std::vector<std::int64_t> archive(pqxx::transaction_base& tx, std::string_view queue,
                                           const std::vector<archive_entry>& entries);

  /// Hides a message until now + `vt_seconds` (0 makes it readable now), e.g.
  /// to extend the lease of a long step; false when it is not in the queue.
  static bool set_vt(pqxx::transaction_base& tx, std::string_view queue, std::int64_t msg_id,
                     int vt_seconds);

  /// Hides each message `msg_ids[i]` until now + `vt_seconds[i]`, in one
  /// statement; returns the ids that were in the queue. The two vectors must
  /// be of equal length.
  static std::vector<std::int64_t> set_vt(pqxx::transaction_base& tx, std::string_view queue,
                                          const std::vector<std::int64_t>& msg_ids,
                                          const std::vector<int>& vt_seconds);

  // -- inspection and dead letters ------------------------------------------

  /// Length, visible length, ages and total sent of one queue.
  static queue_metrics metrics(pqxx::transaction_base& tx, std::string_view queue);

  /// metrics() of every queue, by name.
  static std::vector<queue_metrics> metrics_all(pqxx::transaction_base& tx);

  /// Up to `limit` archived messages, most recently archived first.
  static std::vector<archived_message> list_archived(pqxx::transaction_base& tx,
                                                     std::string_view queue, int limit);

  /// Moves archived messages back into the queue, readable now with read_ct 0,
  /// under their original msg_id; returns the ids moved back.
  static std::vector<std::int64_t> redrive(pqxx::transaction_base& tx, std::string_view queue,
                                           const std::vector<std::int64_t>& msg_ids);

  /// Deletes up to `max_rows` archived messages of `queue` archived
  /// `retention_days` days ago or earlier (0: all archived before this
  /// transaction), oldest first; returns how many. One statement: callers
  /// purge a large archive in several short transactions.
  static std::int64_t purge_archive(pqxx::transaction_base& tx, std::string_view queue,
                                    int retention_days, int max_rows);
};

} // namespace tasker::messaging
