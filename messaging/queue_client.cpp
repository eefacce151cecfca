#include "messaging/queue_client.hpp"

#include "messaging/identifier.hpp"
#include "messaging/queue_sql.hpp"

#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>

namespace tasker::messaging {

namespace {

using detail::ensure_prepared;
using detail::pg_array_literal;
using detail::queue_statement;
namespace sql = detail::queue_sql;

std::string checked_queue(std::string_view queue) {
  return validated_identifier("queue name", queue);
}

void check_non_negative(const std::string& queue, const char* what, long long value) {
  if (value < 0)
    throw std::invalid_argument("queue '" + queue + "': " + what + " must be non-negative, got " +
                                std::to_string(value));
}

// Prepares lazily on the transaction's own connection, so callers never have
// to remember which connections have seen the statements.
template <class... Args>
pqxx::result exec(pqxx::transaction_base& tx, const queue_statement& stmt, Args&&... args) {
  ensure_prepared(tx.conn(), stmt);
  return tx.exec_prepared(stmt.name, std::forward<Args>(args)...);
}

// The hot operations address the queue's table directly, through statements
// prepared per queue and connection: the tasker_mq functions build theirs with
// EXECUTE, which PostgreSQL plans afresh at every call (most of the cost of a
// small read or delete). Same SQL, same results; the functions remain the
// interface for psql and other clients. The queue name is a validated
// identifier (checked_queue), so it can be spliced into the statement.
enum class table_op { read, consume, archive_consumed, send_batch, remove, set_vt_each };

// The rows a statement picked are addressed as `msg_id = ANY (ARRAY(...))`:
// an index probe per id in every plan. A join with the picked rows is planned
// as a hash join over a scan of the whole table when the plan is made while
// the queue is small, and a prepared statement keeps that plan as it grows.
std::string table_sql(table_op op, const std::string& queue) {
  const std::string table = "tasker_mq.q_" + queue;
  switch (op) {
  case table_op::read:
    return "WITH picked AS (SELECT msg_id FROM " + table
           + " WHERE vt <= clock_timestamp() ORDER BY msg_id LIMIT $1 FOR UPDATE SKIP LOCKED),"
             " taken AS (UPDATE " + table
           + " q SET vt = clock_timestamp() + make_interval(secs => $2::integer),"
             " read_ct = q.read_ct + 1"
             " WHERE q.msg_id = ANY (ARRAY(SELECT p.msg_id FROM picked p))"
             " RETURNING q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers)"
             " SELECT * FROM taken ORDER BY msg_id";
  case table_op::consume:
    return "WITH picked AS (SELECT msg_id FROM " + table
           + " WHERE vt <= clock_timestamp() ORDER BY msg_id LIMIT $1 FOR UPDATE SKIP LOCKED),"
             " taken AS (DELETE FROM " + table
           + " q WHERE q.msg_id = ANY (ARRAY(SELECT p.msg_id FROM picked p))"
             " RETURNING q.msg_id, q.read_ct + 1, q.enqueued_at, q.vt, q.message, q.headers)"
             " SELECT * FROM taken ORDER BY msg_id";
  case table_op::archive_consumed:
    // As tasker_mq.archive, from the rows consume() returned ('' headers: none).
    return "INSERT INTO tasker_mq.a_" + queue
           + " AS a (msg_id, read_ct, enqueued_at, vt, message, headers, archived_at, reason)"
             " SELECT m.id, m.ct, m.enq, m.vt, m.body, nullif(m.hdr, '')::jsonb,"
             " clock_timestamp(), m.reason FROM unnest($1::bigint[], $2::integer[],"
             " $3::timestamptz[], $4::timestamptz[], $5::jsonb[], $6::text[], $7::text[])"
             " AS m(id, ct, enq, vt, body, hdr, reason)"
             " ON CONFLICT (msg_id) DO UPDATE SET read_ct = excluded.read_ct,"
             " enqueued_at = excluded.enqueued_at, vt = excluded.vt, message = excluded.message,"
             " headers = excluded.headers, archived_at = excluded.archived_at,"
             " reason = excluded.reason RETURNING a.msg_id";
  case table_op::send_batch:
    // Identity values are drawn in the SELECT's order, so sorting the returned
    // ids restores the array order. Repeated notifications with one payload
    // fold into one per transaction.
    return "WITH ins AS (INSERT INTO " + table
           + " (vt, message) SELECT clock_timestamp() + make_interval(secs => $2::integer), m.message"
             " FROM unnest($1::jsonb[]) WITH ORDINALITY AS m(message, n) ORDER BY m.n"
             " RETURNING msg_id)"
             " SELECT i.msg_id FROM ins i CROSS JOIN (SELECT pg_notify('tasker_mq_" + queue + "', '"
           + queue + "')) n ORDER BY i.msg_id";
  case table_op::remove:
    return "WITH gone AS (DELETE FROM " + table
           + " WHERE msg_id = ANY ($1::bigint[]) RETURNING msg_id) SELECT msg_id FROM gone"
             " ORDER BY msg_id";
  case table_op::set_vt_each:
    return "UPDATE " + table
           + " q SET vt = clock_timestamp() + make_interval(secs => v.secs)"
             " FROM unnest($1::bigint[], $2::integer[]) AS v(id, secs) WHERE q.msg_id = v.id"
             " RETURNING q.msg_id";
  }
  throw std::invalid_argument("table_sql: unknown operation");
}

// Statement name prefixes. PostgreSQL keeps prepared statement names to 63
// bytes; a prefix of at most 8 plus a queue name of at most 48 stays unique.
const char* table_op_name(table_op op) {
  switch (op) {
  case table_op::read:
    return "tq_read:";
  case table_op::consume:
    return "tq_take:";
  case table_op::archive_consumed:
    return "tq_arch:";
  case table_op::send_batch:
    return "tq_send:";
  case table_op::remove:
    return "tq_del:";
  case table_op::set_vt_each:
    return "tq_vt:";
  }
  return "tq_?:";
}

template <class... Args>
pqxx::result exec_prepared_on(pqxx::transaction_base& tx, const std::string& name,
                              const std::string& sql, const std::string& queues, Args&&... args) {
  tx.conn().prepare(name, sql); // an identical redefinition is a no-op
  try {
    return tx.exec_prepared(name, std::forward<Args>(args)...);
  } catch (const pqxx::undefined_table& e) {
    throw pqxx::undefined_table(queues + " does not exist (create it with tasker_mq.create_queue)",
                                e.query(), e.sqlstate().c_str());
  }
}

template <class... Args>
pqxx::result exec_on_table(pqxx::transaction_base& tx, table_op op, const std::string& queue,
                           Args&&... args) {
  return exec_prepared_on(tx, table_op_name(op) + queue, table_sql(op, queue),
                          "queue '" + queue + "'", std::forward<Args>(args)...);
}

// send_batch on `to` (its statement, $1 the bodies, $2 the delay) and remove
// on `from` ($3 the ids) as one statement. The delete is a data-modifying CTE,
// which runs whether or not the query reads it.
std::string send_and_remove_sql(const std::string& to, const std::string& from) {
  const std::string send = table_sql(table_op::send_batch, to); // "WITH ins AS (...) SELECT ..."
  return "WITH gone AS (DELETE FROM tasker_mq.q_" + from
         + " WHERE msg_id = ANY ($3::bigint[])), " + send.substr(std::string_view{"WITH "}.size());
}

// "tq_sr:" + from + ":" + 8 hex digits of `to`: at most 63 bytes for two
// 48-character names. pqxx refuses a second, different definition under one
// name, so a (never seen) hash collision fails loudly instead of misrouting.
std::string send_and_remove_name(const std::string& to, const std::string& from) {
  std::uint32_t h = 2166136261u; // FNV-1a
  for (unsigned char c : to)
    h = (h ^ c) * 16777619u;
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", h);
  return "tq_sr:" + from + ":" + hex;
}

std::vector<std::int64_t> ids_of(const pqxx::result& r) {
  std::vector<std::int64_t> out;
  out.reserve(r.size());
  for (const auto& row : r)
    out.push_back(row[0].as<std::int64_t>());
  return out;
}

// jsonb always holds valid JSON, but not always JSON nlohmann can hold (a
// number beyond double range), so parsing never throws: the body is marked
// discarded and its text kept for the consumer to report.
nlohmann::json parse_field(const pqxx::field& f, std::string* raw_on_failure) {
  if (f.is_null())
    return nullptr;
  auto parsed = nlohmann::json::parse(f.c_str(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() && raw_on_failure != nullptr)
    *raw_on_failure = f.c_str();
  return parsed;
}

void check_reason(const std::string& queue, std::int64_t msg_id, std::string_view reason) {
  if (reason.empty())
    throw std::invalid_argument("queue '" + queue + "': archiving message " +
                                std::to_string(msg_id) + " needs a reason");
}

std::string text_of(const pqxx::field& f) {
  return f.is_null() ? std::string{} : f.c_str();
}

std::string serialize(const std::string& queue, const nlohmann::json& message) {
  try {
    return message.dump();
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("queue '" + queue +
                                "': message cannot be serialized to JSON: " + e.what());
  }
}

std::vector<std::string> serialize_all(const std::string& queue,
                                       const std::vector<nlohmann::json>& messages) {
  std::vector<std::string> bodies;
  bodies.reserve(messages.size());
  for (const auto& m : messages)
    bodies.push_back(serialize(queue, m));
  return bodies;
}

queue_metrics metrics_of(const pqxx::row& row) {
  queue_metrics m;
  m.queue_name = row[0].c_str();
  m.queue_length = row[1].as<std::int64_t>();
  m.visible_length = row[2].as<std::int64_t>();
  m.oldest_msg_age_seconds = row[3].as<double>(0.0);
  m.newest_msg_age_seconds = row[4].as<double>(0.0);
  m.total_messages_sent = row[5].as<std::int64_t>();
  return m;
}

} // namespace

std::string notify_channel(std::string_view queue) {
  return "tasker_mq_" + checked_queue(queue);
}

void prepare_queue_statements(pqxx::connection_base& conn) {
  for (const auto* stmt : sql::all())
    ensure_prepared(conn, *stmt);
}

// -- queue lifecycle --------------------------------------------------------

void queue_client::create_queue(pqxx::transaction_base& tx, std::string_view queue) {
  exec(tx, sql::create_queue, checked_queue(queue));
}

bool queue_client::drop_queue(pqxx::transaction_base& tx, std::string_view queue) {
  return exec(tx, sql::drop_queue, checked_queue(queue))[0][0].as<bool>();
}

std::vector<queue_info> queue_client::list_queues(pqxx::transaction_base& tx) {
  std::vector<queue_info> out;
  for (const auto& row : exec(tx, sql::list_queues))
    out.push_back(queue_info{row[0].c_str(), row[1].c_str()});
  return out;
}

// -- producing --------------------------------------------------------------

std::int64_t queue_client::send(pqxx::transaction_base& tx, std::string_view queue,
                                const nlohmann::json& message, int delay_seconds) {
  auto name = checked_queue(queue);
  check_non_negative(name, "delay_seconds", delay_seconds);
  // The batch statement with one message: prepared per queue and connection,
  // where tasker_mq.send would check and plan its INSERT at every call.
  auto ids = ids_of(exec_on_table(tx, table_op::send_batch, name,
                                  pg_array_literal({serialize(name, message)}), delay_seconds));
  if (ids.size() != 1)
    throw std::logic_error("queue '" + name + "': a send returned " + std::to_string(ids.size())
                           + " message ids");
  return ids.front();
}

std::vector<std::int64_t> queue_client::send_batch(pqxx::transaction_base& tx,
                                                   std::string_view queue,
                                                   const std::vector<nlohmann::json>& messages,
                                                   int delay_seconds) {
  auto name = checked_queue(queue);
  return send_serialized_batch(tx, name, serialize_all(name, messages), delay_seconds);
}

std::vector<std::int64_t> queue_client::send_serialized_batch(pqxx::transaction_base& tx,
                                                              std::string_view queue,
                                                              const std::vector<std::string>& bodies,
                                                              int delay_seconds) {
  auto name = checked_queue(queue);
  check_non_negative(name, "delay_seconds", delay_seconds);
  if (bodies.empty())
    return {};
  return ids_of(exec_on_table(tx, table_op::send_batch, name, pg_array_literal(bodies),
                              delay_seconds));
}

std::vector<std::int64_t> queue_client::send_batch_and_remove(
    pqxx::transaction_base& tx, std::string_view to, const std::vector<nlohmann::json>& messages,
    std::string_view from, const std::vector<std::int64_t>& msg_ids) {
  // Both names are checked before any message is serialized, so a bad name
  // is reported as such whatever the messages hold.
  auto to_name = checked_queue(to);
  checked_queue(from);
  return send_serialized_batch_and_remove(tx, to_name, serialize_all(to_name, messages), from,
                                          msg_ids);
}

std::vector<std::int64_t> queue_client::send_serialized_batch_and_remove(
    pqxx::transaction_base& tx, std::string_view to, const std::vector<std::string>& bodies,
    std::string_view from, const std::vector<std::int64_t>& msg_ids) {
  auto to_name = checked_queue(to);
  auto from_name = checked_queue(from);
  return ids_of(exec_prepared_on(tx, send_and_remove_name(to_name, from_name),
                                 send_and_remove_sql(to_name, from_name),
                                 "queue '" + to_name + "' or '" + from_name + "'",
                                 pg_array_literal(bodies), 0, pg_array_literal(msg_ids)));
}

// -- consuming --------------------------------------------------------------

std::vector<queue_message> queue_client::read(pqxx::transaction_base& tx, std::string_view queue,
                                              int vt_seconds, int qty) {
  auto name = checked_queue(queue);
  check_non_negative(name, "vt_seconds", vt_seconds);
  check_non_negative(name, "qty", qty);
  std::vector<queue_message> out;
  if (qty == 0)
    return out;
  auto r = exec_on_table(tx, table_op::read, name, qty, vt_seconds);
  out.reserve(r.size());
  for (const auto& row : r) {
    queue_message m;
    m.msg_id = row[0].as<std::int64_t>();
    m.read_ct = row[1].as<std::int32_t>();
    m.enqueued_at = text_of(row[2]);
    m.vt = text_of(row[3]);
    m.message = parse_field(row[4], &m.raw_message);
    m.headers = parse_field(row[5], nullptr);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<consumed_message> queue_client::consume(pqxx::transaction_base& tx,
                                                    std::string_view queue, int qty) {
  auto name = checked_queue(queue);
  check_non_negative(name, "qty", qty);
  std::vector<consumed_message> out;
  if (qty == 0)
    return out;
  auto r = exec_on_table(tx, table_op::consume, name, qty);
  out.reserve(r.size());
  for (const auto& row : r) {
    consumed_message m;
    m.msg_id = row[0].as<std::int64_t>();
    m.read_ct = row[1].as<std::int32_t>();
    m.enqueued_at = text_of(row[2]);
    m.vt = text_of(row[3]);
    m.body = text_of(row[4]);
    m.headers = text_of(row[5]);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<std::int64_t> queue_client::archive_consumed(
    pqxx::transaction_base& tx, std::string_view queue,
    const std::vector<consumed_message>& consumed, const std::vector<archive_entry>& entries) {
  auto name = checked_queue(queue);
  if (entries.empty())
    return {};
  std::map<std::int64_t, const consumed_message*> by_id;
  for (const auto& m : consumed)
    by_id.emplace(m.msg_id, &m);
  std::vector<std::int64_t> ids, read_cts;
  std::vector<std::string> enqueued, vts, bodies, headers, reasons;
  std::set<std::int64_t> seen; // a message is archived once, with its first reason
  for (const auto& e : entries) {
    check_reason(name, e.msg_id, e.reason);
    if (!seen.insert(e.msg_id).second)
      continue;
    auto m = by_id.find(e.msg_id);
    if (m == by_id.end())
      throw std::invalid_argument("queue '" + name + "': archiving message "
                                  + std::to_string(e.msg_id) + ": not consumed by this batch");
    ids.push_back(e.msg_id);
    read_cts.push_back(m->second->read_ct);
    enqueued.push_back(m->second->enqueued_at);
    vts.push_back(m->second->vt);
    bodies.push_back(m->second->body);
    headers.push_back(m->second->headers);
    reasons.push_back(e.reason);
  }
  return ids_of(exec_on_table(tx, table_op::archive_consumed, name, pg_array_literal(ids),
                              pg_array_literal(read_cts), pg_array_literal(enqueued),
                              pg_array_literal(vts), pg_array_literal(bodies),
                              pg_array_literal(headers), pg_array_literal(reasons)));
}

std::vector<std::int64_t> queue_client::remove(pqxx::transaction_base& tx, std::string_view queue,
                                               const std::vector<std::int64_t>& msg_ids) {
  auto name = checked_queue(queue);
  if (msg_ids.empty())
    return {};
  return ids_of(exec_on_table(tx, table_op::remove, name, pg_array_literal(msg_ids)));
}

std::vector<std::int64_t> queue_client::archive(pqxx::transaction_base& tx, std::string_view queue,
                                                const std::vector<std::int64_t>& msg_ids,
                                                std::string_view reason) {
  auto name = checked_queue(queue);
  if (msg_ids.empty())
    return {};
  check_reason(name, msg_ids.front(), reason);
  return ids_of(exec(tx, sql::archive, name, pg_array_literal(msg_ids), std::string{reason}));
}

std::vector<std::int64_t> queue_client::archive(pqxx::transaction_base& tx, std::string_view queue,
                                                const std::vector<archive_entry>& entries) {
  auto name = checked_queue(queue);
  if (entries.empty())
    return {};
  std::vector<std::int64_t> ids;
  std::vector<std::string> reasons;
  ids.reserve(entries.size());
  reasons.reserve(entries.size());
  for (const auto& e : entries) {
    check_reason(name, e.msg_id, e.reason);
    ids.push_back(e.msg_id);
    reasons.push_back(e.reason);
  }
  return ids_of(
      exec(tx, sql::archive_each, name, pg_array_literal(ids), pg_array_literal(reasons)));
}

bool queue_client::set_vt(pqxx::transaction_base& tx, std::string_view queue, std::int64_t msg_id,
                          int vt_seconds) {
  auto name = checked_queue(queue);
  check_non_negative(name, "vt_seconds", vt_seconds);
  return !exec(tx, sql::set_vt, name, msg_id, vt_seconds).empty();
}

std::vector<std::int64_t> queue_client::set_vt(pqxx::transaction_base& tx, std::string_view queue,
                                               const std::vector<std::int64_t>& msg_ids,
                                               const std::vector<int>& vt_seconds) {
  auto name = checked_queue(queue);
  if (msg_ids.size() != vt_seconds.size())
    throw std::invalid_argument("queue " + name + ": set_vt got " + std::to_string(msg_ids.size())
                                + " message ids but " + std::to_string(vt_seconds.size())
                                + " visibility timeouts");
  if (msg_ids.empty())
    return {};
  std::vector<std::int64_t> vts;
  vts.reserve(vt_seconds.size());
  for (auto v : vt_seconds) {
    check_non_negative(name, "vt_seconds", v);
    vts.push_back(v);
  }
  return ids_of(exec_on_table(tx, table_op::set_vt_each, name, pg_array_literal(msg_ids),
                                   pg_array_literal(vts)));
}

// -- inspection and dead letters --------------------------------------------

queue_metrics queue_client::metrics(pqxx::transaction_base& tx, std::string_view queue) {
  return metrics_of(exec(tx, sql::metrics, checked_queue(queue))[0]);
}

std::vector<queue_metrics> queue_client::metrics_all(pqxx::transaction_base& tx) {
  std::vector<queue_metrics> out;
  for (const auto& row : exec(tx, sql::metrics_all))
    out.push_back(metrics_of(row));
  return out;
}

std::vector<archived_message> queue_client::list_archived(pqxx::transaction_base& tx,
                                                          std::string_view queue, int limit) {
  auto name = checked_queue(queue);
  check_non_negative(name, "limit", limit);
  std::vector<archived_message> out;
  for (const auto& row : exec(tx, sql::list_archived, name, limit)) {
    archived_message m;
    m.msg_id = row[0].as<std::int64_t>();
    m.read_ct = row[1].as<std::int32_t>();
    m.enqueued_at = text_of(row[2]);
    m.vt = text_of(row[3]);
    m.message = parse_field(row[4], &m.raw_message);
    m.headers = parse_field(row[5], nullptr);
    m.archived_at = text_of(row[6]);
    m.reason = text_of(row[7]);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<std::int64_t> queue_client::redrive(pqxx::transaction_base& tx, std::string_view queue,
                                                const std::vector<std::int64_t>& msg_ids) {
  auto name = checked_queue(queue);
  if (msg_ids.empty())
    return {};
  return ids_of(exec(tx, sql::redrive, name, pg_array_literal(msg_ids)));
}

std::int64_t queue_client::purge_archive(pqxx::transaction_base& tx, std::string_view queue,
                                         int retention_days, int max_rows) {
  auto name = checked_queue(queue);
  check_non_negative(name, "retention_days", retention_days);
  check_non_negative(name, "max_rows", max_rows);
  return exec(tx, sql::purge_archive, name, retention_days, max_rows)[0][0].as<std::int64_t>();
}

} // namespace tasker::messaging
