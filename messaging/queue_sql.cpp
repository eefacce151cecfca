#include "messaging/queue_sql.hpp"

namespace tasker::messaging::detail {

namespace queue_sql {

// Explicit casts pin every parameter type, so each statement plans once per
// connection whatever the caller binds.
const queue_statement create_queue{"tasker_mq.create_queue",
                                   "SELECT tasker_mq.create_queue($1::text)"};
const queue_statement drop_queue{"tasker_mq.drop_queue", "SELECT tasker_mq.drop_queue($1::text)"};
const queue_statement list_queues{"tasker_mq.list_queues",
                                  "SELECT queue_name, created_at FROM tasker_mq.list_queues()"};
const queue_statement archive{
    "tasker_mq.archive",
    "SELECT a.msg_id FROM tasker_mq.archive($1::text, $2::bigint[], $3::text) AS a(msg_id)"};
const queue_statement archive_each{
    "tasker_mq.archive_each",
    "SELECT a.msg_id FROM tasker_mq.archive($1::text, $2::bigint[], $3::text[]) AS a(msg_id)"};
const queue_statement set_vt{
    "tasker_mq.set_vt", "SELECT msg_id FROM tasker_mq.set_vt($1::text, $2::bigint, $3::integer)"};
const queue_statement metrics{
    "tasker_mq.metrics",
    "SELECT queue_name, queue_length, visible_length, oldest_msg_age_seconds,"
    " newest_msg_age_seconds, total_messages_sent FROM tasker_mq.metrics($1::text)"};
const queue_statement metrics_all{
    "tasker_mq.metrics_all",
    "SELECT queue_name, queue_length, visible_length, oldest_msg_age_seconds,"
    " newest_msg_age_seconds, total_messages_sent FROM tasker_mq.metrics_all()"};
const queue_statement list_archived{
    "tasker_mq.list_archived",
    "SELECT msg_id, read_ct, enqueued_at, vt, message, headers, archived_at, reason"
    " FROM tasker_mq.list_archived($1::text, $2::integer)"};
const queue_statement redrive{
    "tasker_mq.redrive",
    "SELECT r.msg_id FROM tasker_mq.redrive($1::text, $2::bigint[]) AS r(msg_id)"};
const queue_statement purge_archive{
    "tasker_mq.purge_archive",
    "SELECT tasker_mq.purge_archive($1::text, $2::integer, $3::integer)"};

const std::vector<const queue_statement*>& all() {
  static const std::vector<const queue_statement*> statements{
      &create_queue, &drop_queue,   &list_queues, &archive,
      &archive_each, &set_vt,       &metrics,     &metrics_all, &list_archived,
      &redrive,      &purge_archive};
  return statements;
}

} // namespace queue_sql

void ensure_prepared(pqxx::connection_base& conn, const queue_statement& stmt) {
  conn.prepare(stmt.name, stmt.sql);
}

std::string pg_array_literal(const std::vector<std::int64_t>& values) {
  std::string out{"{"};
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0)
      out += ',';
    out += std::to_string(values[i]);
  }
  out += '}';
  return out;
}

std::string pg_array_literal(const std::vector<std::string>& values) {
  std::size_t size = 2;
  for (const auto& v : values)
    size += v.size() + 3;
  std::string out;
  out.reserve(size);
  out += '{';
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0)
      out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\')
        out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

} // namespace tasker::messaging::detail
