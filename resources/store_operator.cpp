#include "resources/store_operator.hpp"

#include "messaging/identifier.hpp"
#include "resources/store_states.hpp"

#include <stdexcept>

namespace tasker::resources {

namespace {

std::string text_or_empty(const pqxx::field& f) {
  return f.is_null() ? std::string{} : f.as<std::string>();
}

operator_outcome run_action(pqxx::transaction_base& tx, const char* query,
                            const std::string& task_uuid, const nlohmann::json& metadata) {
  auto rows = detail::translating(
      [&] { return tx.exec_params(query, detail::pg_array({task_uuid}), metadata.dump()); });
  const auto& row = rows.at(0);
  return {row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
          row[3].as<int>()};
}

} // namespace

operator_outcome cancel_task(pqxx::transaction_base& tx, const std::string& task_uuid,
                             const nlohmann::json& metadata) {
  return run_action(tx, "SELECT * FROM tasker_cancel_tasks($1::uuid[], $2::jsonb)", task_uuid,
                    metadata);
}

operator_outcome retry_task(pqxx::transaction_base& tx, const std::string& task_uuid,
                            const nlohmann::json& metadata) {
  return run_action(tx, "SELECT * FROM tasker_retry_tasks($1::uuid[], $2::jsonb)", task_uuid,
                    metadata);
}

operator_outcome resolve_task(pqxx::transaction_base& tx, const std::string& task_uuid,
                              const nlohmann::json& metadata) {
  return run_action(tx, "SELECT * FROM tasker_resolve_tasks($1::uuid[], $2::jsonb)", task_uuid,
                    metadata);
}

std::vector<template_summary> list_templates(pqxx::transaction_base& tx) {
  std::vector<template_summary> out;
  for (const auto& row : tx.exec("SELECT namespace_name, task_name, version, description,"
                                 " step_count, created_at FROM tasker_list_templates()"))
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                   row[3].as<std::string>(), row[4].as<int>(), row[5].as<std::string>()});
  return out;
}

std::optional<stored_template> find_template(pqxx::transaction_base& tx, const std::string& ns,
                                             const std::string& name, const std::string& version) {
  // pqxx 6.4 sends a null pointer as SQL NULL: "latest version".
  const char* v = version.empty() ? nullptr : version.c_str();
  auto rows = tx.exec_params("SELECT named_task_uuid, version, template, created_at"
                             " FROM tasker_find_template($1, $2, $3)",
                             ns, name, v);
  if (rows.empty())
    return std::nullopt;
  const auto& row = rows[0];
  return stored_template{row[0].as<std::string>(), row[1].as<std::string>(),
                         nlohmann::json::parse(row[2].as<std::string>()), row[3].as<std::string>()};
}

std::vector<task_summary> list_tasks(pqxx::transaction_base& tx, const task_filter& filter) {
  if (!filter.state.empty())
    parse_task_state(filter.state);
  if (filter.limit < 1)
    throw std::invalid_argument("limit must be at least 1, got " + std::to_string(filter.limit));
  const char* state = filter.state.empty() ? nullptr : filter.state.c_str();
  const char* ns = filter.namespace_name.empty() ? nullptr : filter.namespace_name.c_str();
  std::vector<task_summary> out;
  for (const auto& row : tx.exec_params(
           "SELECT task_uuid, namespace_name, task_name, task_version, current_state, priority,"
           " total_steps, finished_steps, claimed_by, created_at, updated_at"
           " FROM tasker_list_tasks($1, $2, $3)",
           state, ns, filter.limit))
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                   row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<std::int32_t>(),
                   row[6].as<int>(), row[7].as<int>(), text_or_empty(row[8]),
                   row[9].as<std::string>(), row[10].as<std::string>()});
  return out;
}

std::optional<task_status> find_task_status(pqxx::transaction_base& tx,
                                            const std::string& task_uuid) {
  auto rows = detail::translating([&] {
    return tx.exec_params(
        "SELECT task_uuid, namespace_name, task_name, task_version, current_state, priority,"
        " total_steps, finished_steps, claimed_by, created_at, updated_at, initiator, reason,"
        " request_id, claimed_at, context, execution_status, ready_steps"
        " FROM tasker_task_status($1::uuid)",
        task_uuid);
  });
  if (rows.empty())
    return std::nullopt;
  const auto& r = rows[0];
  task_status st;
  st.task = {r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
             r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<std::int32_t>(),
             r[6].as<int>(),         r[7].as<int>(),         text_or_empty(r[8]),
             r[9].as<std::string>(), r[10].as<std::string>()};
  st.initiator = r[11].as<std::string>();
  st.reason = r[12].as<std::string>();
  st.request_id = text_or_empty(r[13]);
  st.claimed_at = text_or_empty(r[14]);
  st.context = nlohmann::json::parse(r[15].as<std::string>());
  st.execution_status = r[16].as<std::string>();
  st.ready_steps = r[17].as<int>();
  for (const auto& s : tx.exec_params(
           "SELECT workflow_step_uuid, step_name, handler, current_state, attempts, retry_limit,"
           " retryable, last_error, backoff_until, updated_at"
           " FROM tasker_task_step_details($1::uuid)",
           task_uuid))
    st.steps.push_back({s[0].as<std::string>(), s[1].as<std::string>(), s[2].as<std::string>(),
                        s[3].as<std::string>(), s[4].as<int>(), s[5].as<int>(), s[6].as<bool>(),
                        text_or_empty(s[7]), text_or_empty(s[8]), s[9].as<std::string>()});
  return st;
}

std::optional<requested_task> find_requested_task(pqxx::transaction_base& tx,
                                                  const nlohmann::json& request) {
  auto rows = tx.exec_params(
      "SELECT task_uuid, duplicate FROM tasker_find_requested_task($1::jsonb)", request.dump());
  if (rows.empty())
    return std::nullopt;
  return requested_task{rows[0][0].as<std::string>(), rows[0][1].as<bool>()};
}

std::vector<queue_stats> all_queue_stats(pqxx::transaction_base& tx) {
  std::vector<queue_stats> out;
  for (const auto& row : tx.exec("SELECT queue_name, queue_length, visible_length,"
                                 " oldest_msg_age_seconds, total_messages_sent, archived_count"
                                 " FROM tasker_queue_stats()"))
    out.push_back({row[0].as<std::string>(), row[1].as<std::int64_t>(), row[2].as<std::int64_t>(),
                   row[3].as<double>(), row[4].as<std::int64_t>(), row[5].as<std::int64_t>()});
  return out;
}

std::vector<std::int64_t> redrive_all(pqxx::transaction_base& tx, const std::string& queue) {
  messaging::validated_identifier("queue name", queue);
  std::vector<std::int64_t> out;
  for (const auto& row : tx.exec_params("SELECT * FROM tasker_redrive_all($1)", queue))
    out.push_back(row[0].as<std::int64_t>());
  return out;
}

} // namespace tasker::resources
