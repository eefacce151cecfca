#pragma once
/// Internals of the queue client: the statements it prepares and the
/// PostgreSQL array literals it binds. Not part of the public API.

#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <vector>

namespace tasker::messaging::detail {

/// A prepared statement: its connection-wide name and its SQL.
struct queue_statement {
  const char* name;
  const char* sql;
};

/// The statements the client runs as thin calls into the tasker_mq SQL
/// functions (the logic lives in 0002_queues.sql and 0008_archive_retention.sql,
/// not here). read, send, send_batch, delete and the batch set_vt go to the queue's
/// table directly (queue_client.cpp), with the same SQL as those functions.
namespace queue_sql {
extern const queue_statement create_queue;
extern const queue_statement drop_queue;
extern const queue_statement list_queues;
extern const queue_statement archive;
extern const queue_statement archive_each;
extern const queue_statement set_vt;
extern const queue_statement metrics;
extern const queue_statement metrics_all;
extern const queue_statement list_archived;
extern const queue_statement redrive;
extern const queue_statement purge_archive;

/// All of the above, for prepare_queue_statements.
const std::vector<const queue_statement*>& all();
} // namespace queue_sql

/// Defines `stmt` on `conn` unless it already is (libpqxx 6 ignores a
/// redefinition with identical SQL and registers it with the server lazily).
void ensure_prepared(pqxx::connection_base& conn, const queue_statement& stmt);

/// `{1,2,3}`: a bigint[] literal.
std::string pg_array_literal(const std::vector<std::int64_t>& values);

/// `{"a","b\"c"}`: a text[] (or jsonb[]) literal; every element is quoted and
/// backslashes and double quotes escaped, so any text survives unchanged.
std::string pg_array_literal(const std::vector<std::string>& values);

} // namespace tasker::messaging::detail
