// `taskerctl queue stats` and `taskerctl dlq list|redrive`.
#include "messaging/queue_client.hpp"
#include "resources/store_operator.hpp"
#include "tools/taskerctl/operator_commands.hpp"
#include "tools/taskerctl/support.hpp"

#include <algorithm>
#include <cstdio>
#include <ostream>

namespace tasker::tools::ctl {

namespace {

using messaging::queue_client;

std::string age_text(double seconds) {
  char buf[32];
  if (seconds < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  else if (seconds < 3600)
    std::snprintf(buf, sizeof buf, "%.1fm", seconds / 60);
  else
    std::snprintf(buf, sizeof buf, "%.1fh", seconds / 3600);
  return buf;
}

/// The body of an archived message, for people and scripts alike.
nlohmann::json body_of(const messaging::archived_message& m) {
  return m.message.is_discarded() ? nlohmann::json(m.raw_message) : m.message;
}

std::string ids_text(const std::vector<std::int64_t>& ids) {
  std::string out;
  for (auto id : ids)
    out += (out.empty() ? "" : " ") + std::to_string(id);
  return out;
}

} // namespace

int queue_stats(const ctl_context& ctx, std::ostream& out, std::ostream& err) {
  return run_guarded(err, [&] {
    auto conn = open_database(ctx.database_url);
    pqxx::read_transaction tx{conn};
    auto stats = resources::all_queue_stats(tx);
    if (ctx.json) {
      auto doc = nlohmann::json::array();
      for (const auto& q : stats)
        doc.push_back({{"queue", q.queue_name},
                       {"length", q.queue_length},
                       {"visible", q.visible_length},
                       {"oldest_age_seconds", q.oldest_msg_age_seconds},
                       {"total_sent", q.total_messages_sent},
                       {"archived", q.archived_count}});
      out << doc.dump(2) << '\n';
      return exit_ok;
    }
    if (stats.empty()) {
      out << "no queues\n";
      return exit_ok;
    }
    text_table table{{"QUEUE", "LENGTH", "VISIBLE", "OLDEST", "TOTAL SENT", "ARCHIVED"}};
    for (const auto& q : stats)
      table.add({q.queue_name, std::to_string(q.queue_length), std::to_string(q.visible_length),
                 q.queue_length > 0 ? age_text(q.oldest_msg_age_seconds) : "-",
                 std::to_string(q.total_messages_sent), std::to_string(q.archived_count)});
    table.print(out);
    return exit_ok;
  });
}

int dlq_list(const ctl_context& ctx, const std::string& queue, int limit, std::ostream& out,
             std::ostream& err) {
  return run_guarded(err, [&] {
    if (limit < 1)
      throw usage_error("--limit: expected at least 1, got " + std::to_string(limit));
    auto conn = open_database(ctx.database_url);
    pqxx::read_transaction tx{conn};
    std::vector<std::string> queues;
    if (!queue.empty())
      queues.push_back(queue);
    else
      for (const auto& q : queue_client::list_queues(tx))
        queues.push_back(q.name);
    auto doc = nlohmann::json::array();
    text_table table{{"QUEUE", "MSG ID", "ARCHIVED AT", "READS", "REASON", "MESSAGE"}};
    for (const auto& q : queues)
      for (const auto& m : queue_client::list_archived(tx, q, limit)) {
        doc.push_back({{"queue", q},
                       {"msg_id", m.msg_id},
                       {"archived_at", m.archived_at},
                       {"enqueued_at", m.enqueued_at},
                       {"read_ct", m.read_ct},
                       {"reason", m.reason},
                       {"message", body_of(m)}});
        table.add({q, std::to_string(m.msg_id), short_time(m.archived_at),
                   std::to_string(m.read_ct), m.reason, excerpt(body_of(m))});
      }
    if (ctx.json)
      out << doc.dump(2) << '\n';
    else if (table.size() == 0)
      out << "no archived messages" << (queue.empty() ? "" : " in " + queue) << '\n';
    else
      table.print(out);
    return exit_ok;
  });
}

int dlq_redrive(const ctl_context& ctx, const std::string& queue,
                const std::vector<std::int64_t>& msg_ids, bool all, std::ostream& out,
                std::ostream& err) {
  return run_guarded(err, [&] {
    if (queue.empty())
      throw usage_error("dlq redrive: name the queue");
    if (all == !msg_ids.empty())
      throw usage_error("dlq redrive " + queue + ": give message ids or --all, not " +
                        (all ? "both" : "neither"));
    auto conn = open_database(ctx.database_url);
    pqxx::work tx{conn};
    auto moved =
        all ? resources::redrive_all(tx, queue) : queue_client::redrive(tx, queue, msg_ids);
    tx.commit();
    std::vector<std::int64_t> missing;
    for (auto id : msg_ids)
      if (std::find(moved.begin(), moved.end(), id) == moved.end())
        missing.push_back(id);
    if (ctx.json) {
      out << nlohmann::json{{"queue", queue}, {"redriven", moved}, {"not_archived", missing}}.dump(
                 2)
          << '\n';
    } else {
      out << "redrove " << moved.size() << (moved.size() == 1 ? " message" : " messages")
          << " into " << queue << (moved.empty() ? "" : ": " + ids_text(moved)) << '\n';
      if (!missing.empty())
        err << "not in the archive of " << queue
            << " (already redriven or never archived): " << ids_text(missing) << '\n';
    }
    // Asking for ids of which none could be moved is a failure a script must see.
    return !msg_ids.empty() && moved.empty() ? exit_runtime_error : exit_ok;
  });
}

} // namespace tasker::tools::ctl
