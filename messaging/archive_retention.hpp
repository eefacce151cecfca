#pragma once
/// Archive retention (queues.archive_retention_days): deletes archived
/// messages older than the retention period from every queue's archive, in
/// bounded batches, each in its own short transaction, so a large archive
/// never holds its row locks for long. The node runs it periodically
/// (node/queue_depth_poller.hpp).

#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <vector>

namespace tasker::messaging {

/// Rows deleted by one archive purge batch at most, by default.
inline constexpr int default_purge_batch_rows = 1000;

/// What one purge deleted from one queue's archive.
struct archive_purge {
  std::string queue;
  std::int64_t deleted = 0;
};

/// Deletes the messages archived `retention_days` days ago or earlier (0:
/// every archived message) from every queue, at most `batch_rows` per
/// statement and transaction on `conn`, until a batch comes back short.
/// Returns the queues it deleted from, by name; a queue dropped meanwhile is
/// skipped. Throws std::invalid_argument for a negative argument and
/// pqxx errors when the database fails.
std::vector<archive_purge> purge_archives(pqxx::connection_base& conn, int retention_days,
                                          int batch_rows = default_purge_batch_rows);

} // namespace tasker::messaging
