#include "messaging/archive_retention.hpp"

#include "messaging/queue_client.hpp"

#include <stdexcept>

namespace tasker::messaging {

std::vector<archive_purge> purge_archives(pqxx::connection_base& conn, int retention_days,
                                          int batch_rows) {
  if (retention_days < 0 || batch_rows <= 0)
    throw std::invalid_argument("archive purge: retention_days must be non-negative and "
                                "batch_rows positive, got " +
                                std::to_string(retention_days) + " and " +
                                std::to_string(batch_rows));
  std::vector<queue_info> queues;
  {
    pqxx::read_transaction tx{conn};
    queues = queue_client::list_queues(tx);
    tx.commit();
  }
  std::vector<archive_purge> out;
  for (const auto& q : queues) {
    archive_purge purged{q.name, 0};
    try {
      for (;;) {
        pqxx::work tx{conn};
        auto n = queue_client::purge_archive(tx, q.name, retention_days, batch_rows);
        tx.commit();
        purged.deleted += n;
        if (n < batch_rows)
          break;
      }
    } catch (const pqxx::undefined_table&) {
      // Dropped since it was listed: nothing left to purge.
    }
    if (purged.deleted > 0)
      out.push_back(std::move(purged));
  }
  return out;
}

} // namespace tasker::messaging
