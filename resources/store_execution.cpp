#include "resources/store_execution.hpp"
#include "resources/session.hpp"

#include <algorithm>
#include <stdexcept>

namespace tasker::resources {

namespace {

std::vector<locked_task> locked_rows(const pqxx::result& rows) {
  std::vector<locked_task> out;
  out.reserve(rows.size());
  for (const auto& row : rows)
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>()});
  return out;
}

} // namespace

std::vector<std::string> task_request_problems(pqxx::transaction_base& tx,
                                               const nlohmann::json& requests) {
  if (requests.is_array() && requests.empty())
    return {};
  auto rows = detail::translating([&] {
    return tx.exec_params(
        "SELECT CASE WHEN namespace_uuid IS NULL"
        "   THEN format('unknown namespace \"%s\"', namespace_name)"
        " WHEN named_task_uuid IS NULL"
        "   THEN format('unknown task template %s/%s@%s', namespace_name, task_name,"
        "               coalesce(task_version, '<latest>'))"
        " ELSE '' END"
        " FROM tasker_resolve_task_requests($1::jsonb) ORDER BY ordinal",
        requests.dump());
  });
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (const auto& row : rows)
    out.push_back(row[0].as<std::string>());
  return out;
}

std::vector<started_task> claim_and_start_tasks(pqxx::transaction_base& tx,
                                                std::string_view node_id, std::int32_t limit,
                                                std::int32_t claim_timeout_seconds,
                                                double aging_seconds) {
  auto rows = detail::translating([&] {
    return detail::exec_prepared_once(tx, "tx_claim_start",
                                      "SELECT task_uuid, namespace_name, started"
                                      " FROM tasker_claim_and_start_tasks($1, $2, $3, $4)",
                                      std::string{node_id}, limit, claim_timeout_seconds,
                                      aging_seconds);
  });
  std::vector<started_task> out;
  out.reserve(rows.size());
  for (const auto& row : rows)
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<bool>()});
  return out;
}

std::vector<locked_task> lock_claimed_tasks(pqxx::transaction_base& tx, std::string_view node_id,
                                            std::int32_t limit) {
  return locked_rows(detail::translating([&] {
    return detail::exec_prepared_once(tx, "tx_lock_claimed",
                                      "SELECT task_uuid, namespace_name, task_name"
                                      " FROM tasker_lock_claimed_tasks($1, $2)",
                                      std::string{node_id}, limit);
  }));
}

namespace {

// Calls `function`(task uuids, node id), which returns locked_task rows.
std::vector<locked_task> tasks_for_node(pqxx::transaction_base& tx, const char* function,
                                        const std::vector<std::string>& task_uuids,
                                        std::string_view node_id) {
  if (task_uuids.empty())
    return {};
  return locked_rows(detail::translating([&] {
    return detail::exec_prepared_once(
        tx, std::string{"tx_"} + function,
        std::string{"SELECT task_uuid, namespace_name, task_name FROM "} + function +
            "($1::uuid[], $2)",
        detail::pg_array(task_uuids), std::string{node_id});
  }));
}

} // namespace

std::vector<locked_task> start_new_tasks(pqxx::transaction_base& tx,
                                         const std::vector<std::string>& task_uuids,
                                         std::string_view node_id) {
  return tasks_for_node(tx, "tasker_start_new_tasks", task_uuids, node_id);
}

namespace {

constexpr result_outcome all_outcomes[] = {result_outcome::completed, result_outcome::retrying,
                                           result_outcome::failed,    result_outcome::duplicate,
                                           result_outcome::stale,     result_outcome::unknown_step};

result_outcome parse_outcome(std::string_view name) {
  for (auto o : all_outcomes)
    if (to_string(o) == name)
      return o;
  throw std::invalid_argument("unknown step result outcome \"" + std::string{name} + "\"");
}

} // namespace

std::string_view to_string(result_outcome outcome) noexcept {
  switch (outcome) {
  case result_outcome::completed:
    return "completed";
  case result_outcome::retrying:
    return "retrying";
  case result_outcome::failed:
    return "failed";
  case result_outcome::duplicate:
    return "duplicate";
  case result_outcome::stale:
    return "stale";
  case result_outcome::unknown_step:
    return "unknown_step";
  }
  return "unknown";
}

std::vector<rescued_step> rescue_stale_steps(pqxx::transaction_base& tx, std::int32_t limit) {
  auto rows = detail::translating([&] {
    return detail::exec_prepared_once(tx, "tx_rescue",
                                      "SELECT workflow_step_uuid, task_uuid, from_state, to_state,"
                                      " attempt_given_back FROM tasker_rescue_stale_steps($1)",
                                      limit);
  });
  std::vector<rescued_step> out;
  out.reserve(rows.size());
  for (const auto& row : rows)
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                   parse_step_state(row[2].as<std::string>()),
                   parse_step_state(row[3].as<std::string>()), row[4].as<bool>()});
  return out;
}

namespace {

std::vector<finalized_task> finalized_rows(const pqxx::result& rows) {
  std::vector<finalized_task> out;
  out.reserve(rows.size());
  for (const auto& row : rows)
    out.push_back({row[0].as<std::string>(), parse_task_state(row[1].as<std::string>())});
  return out;
}

} // namespace

std::vector<finalized_task> finalize_tasks(pqxx::transaction_base& tx, std::int32_t limit) {
  return finalized_rows(detail::translating([&] {
    return detail::exec_prepared_once(
        tx, "tx_finalize", "SELECT task_uuid, to_state FROM tasker_finalize_tasks($1)", limit);
  }));
}

namespace {

// Reads a row of tasker_dispatch's kinds ('held', 'finalized', 'sent') from
// columns 0-5 (kind, task, step, queue, to_state, sent); false for any other
// kind.
bool dispatch_row(const pqxx::row& row, dispatch_result& out) {
  const auto kind = row[0].as<std::string>();
  if (kind == "held")
    out.held.push_back({row[1].as<std::string>(), row[2].as<std::string>(),
                        row[3].as<std::string>()});
  else if (kind == "finalized")
    out.finalized.push_back({row[1].as<std::string>(), parse_task_state(row[4].as<std::string>())});
  else if (kind == "sent")
    out.sent = row[5].as<std::size_t>();
  else
    return false;
  return true;
}

} // namespace

dispatch_result dispatch_tasks(pqxx::transaction_base& tx, const std::vector<locked_task>& tasks,
                               std::string_view node_id, const std::string& queue_suffix,
                               bool finalize, int hold_seconds) {
  dispatch_result out;
  if (tasks.empty())
    return out;
  std::vector<std::string> ids, names;
  for (const auto& t : tasks) {
    ids.push_back(t.task_uuid);
    names.push_back(t.task_name);
  }
  auto rows = detail::translating([&] {
    return detail::exec_prepared_once(
        tx, "tx_dispatch",
        "SELECT kind, task_uuid, workflow_step_uuid, queue_name, to_state, sent"
        " FROM tasker_dispatch($1::uuid[], $2::text[], NULL, $3, $4, $5, $6)",
        detail::pg_array(ids), detail::pg_array(names), std::string{node_id}, queue_suffix,
        finalize, hold_seconds);
  });
  for (const auto& row : rows)
    if (!dispatch_row(row, out))
      throw std::logic_error("tasker_dispatch: unknown row kind " + row[0].as<std::string>());
  return out;
}

created_and_dispatched create_start_and_dispatch(pqxx::transaction_base& tx,
                                                 const nlohmann::json& requests,
                                                 std::string_view node_id, bool start,
                                                 const std::string& queue_suffix,
                                                 int hold_seconds) {
  created_and_dispatched out;
  static const std::string sql =
      "SELECT kind, task_uuid, workflow_step_uuid, queue_name, to_state, sent, duplicate"
      " FROM tasker_create_start_and_dispatch($1::jsonb, $2, $3, $4, $5)";
  // Requests that all carry their message create the same uuids when
  // redone, so their commit need not wait for the flush.
  static const std::string redoable_sql = sql + " WHERE " + std::string{commit_without_flush};
  auto has_string = [](const nlohmann::json& r, const char* key) {
    auto it = r.find(key);
    return it != r.end() && it->is_string();
  };
  const bool redoable =
      requests.is_array() && !requests.empty()
      && std::all_of(requests.begin(), requests.end(), [&](const nlohmann::json& r) {
           return r.is_object() && has_string(r, "message_key") && has_string(r, "enqueued_at");
         });
  auto rows = detail::translating([&] {
    return detail::exec_prepared_once(tx, redoable ? "tx_create_redoable" : "tx_create",
                                      redoable ? redoable_sql : sql, requests.dump(),
                                      std::string{node_id}, start, queue_suffix, hold_seconds);
  });
  for (const auto& row : rows) {
    if (dispatch_row(row, out.dispatch))
      continue;
    if (row[0].as<std::string>() != "created")
      throw std::logic_error("tasker_create_start_and_dispatch: unknown row kind "
                             + row[0].as<std::string>());
    out.created.push_back({row[1].as<std::string>(), row[6].as<bool>()});
  }
  return out;
}

applied_and_dispatched apply_results_and_dispatch(pqxx::transaction_base& tx,
                                                  const nlohmann::json& results,
                                                  std::string_view node_id,
                                                  const std::string& queue_suffix,
                                                  int hold_seconds) {
  applied_and_dispatched out;
  if (results.is_array() && results.empty())
    return out;
  auto rows = detail::translating([&] {
    static const std::string sql =
        "SELECT kind, task_uuid, workflow_step_uuid, queue_name, to_state, sent,"
        " ordinal, outcome, detail, touched, locked"
        " FROM tasker_apply_results_and_dispatch($1::jsonb, $2, $3, $4) WHERE " +
        std::string{commit_without_flush};
    return detail::exec_prepared_once(tx, "tx_apply", sql, results.dump(), std::string{node_id},
                                      queue_suffix, hold_seconds);
  });
  for (const auto& row : rows) {
    if (dispatch_row(row, out.dispatch))
      continue;
    const auto kind = row[0].as<std::string>();
    if (kind == "result") {
      out.results.push_back({row[6].as<std::int32_t>(), row[2].as<std::string>(std::string{}),
                             parse_outcome(row[7].as<std::string>()),
                             row[8].as<std::string>(std::string{})});
    } else if (kind == "touched") {
      out.touched = row[9].as<std::size_t>();
      out.locked = row[10].as<std::size_t>();
    } else {
      throw std::logic_error("tasker_apply_results_and_dispatch: unknown row kind " + kind);
    }
  }
  return out;
}

} // namespace tasker::resources
