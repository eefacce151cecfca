#include "resources/store_states.hpp"

#include <stdexcept>

namespace tasker::resources {

namespace {

template <class State, std::size_t N>
State parse_state(const State (&all)[N], std::string_view name, const char* what) {
  for (auto s : all)
    if (to_string(s) == name)
      return s;
  throw std::invalid_argument(std::string{"unknown "} + what + " state \"" + std::string{name} +
                              "\"");
}

std::chrono::system_clock::time_point from_epoch_us(std::int64_t us) {
  return std::chrono::system_clock::time_point{std::chrono::microseconds{us}};
}

template <class State, class Parse>
std::vector<state_change<State>> run_transition(pqxx::transaction_base& tx, const char* query,
                                                const std::vector<std::string>& uuids, State to,
                                                const nlohmann::json& metadata, Parse parse) {
  std::vector<state_change<State>> out;
  if (uuids.empty())
    return out;
  pqxx::result rows = detail::translating([&] {
    return tx.exec_params(query, detail::pg_array(uuids), std::string{to_string(to)},
                          metadata.dump());
  });
  out.reserve(rows.size());
  for (const auto& row : rows)
    out.push_back({row[0].as<std::string>(), parse(row[1].as<std::string>()),
                   parse(row[2].as<std::string>())});
  return out;
}

std::vector<transition_record> read_history(const pqxx::result& rows, bool with_step) {
  std::vector<transition_record> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    transition_record r;
    int i = 0;
    if (with_step) {
      r.step_uuid = row[i++].as<std::string>();
      r.step_name = row[i++].as<std::string>();
    }
    if (!row[i].is_null())
      r.from = row[i].as<std::string>();
    ++i;
    r.to = row[i++].as<std::string>();
    r.metadata = nlohmann::json::parse(row[i++].as<std::string>());
    r.sort_key = row[i++].as<std::int32_t>();
    r.most_recent = row[i++].as<bool>();
    r.at = from_epoch_us(row[i++].as<std::int64_t>());
    out.push_back(std::move(r));
  }
  return out;
}

} // namespace

std::string_view to_string(task_state state) noexcept {
  switch (state) {
  case task_state::pending:
    return "pending";
  case task_state::in_progress:
    return "in_progress";
  case task_state::complete:
    return "complete";
  case task_state::error:
    return "error";
  case task_state::cancelled:
    return "cancelled";
  case task_state::resolved_manually:
    return "resolved_manually";
  }
  return "unknown";
}

std::string_view to_string(step_state state) noexcept {
  switch (state) {
  case step_state::pending:
    return "pending";
  case step_state::enqueued:
    return "enqueued";
  case step_state::in_progress:
    return "in_progress";
  case step_state::complete:
    return "complete";
  case step_state::error:
    return "error";
  case step_state::cancelled:
    return "cancelled";
  case step_state::resolved_manually:
    return "resolved_manually";
  }
  return "unknown";
}

task_state parse_task_state(std::string_view name) {
  return parse_state(all_task_states, name, "task");
}

step_state parse_step_state(std::string_view name) {
  return parse_state(all_step_states, name, "step");
}

std::vector<state_change<task_state>> transition_tasks(pqxx::transaction_base& tx,
                                                       const std::vector<std::string>& task_uuids,
                                                       task_state to,
                                                       const nlohmann::json& metadata) {
  return run_transition(tx, "SELECT * FROM tasker_transition_tasks($1::uuid[], $2, $3::jsonb)",
                        task_uuids, to, metadata,
                        [](const std::string& s) { return parse_task_state(s); });
}

std::vector<state_change<step_state>> transition_steps(pqxx::transaction_base& tx,
                                                       const std::vector<std::string>& step_uuids,
                                                       step_state to,
                                                       const nlohmann::json& metadata) {
  return run_transition(tx, "SELECT * FROM tasker_transition_steps($1::uuid[], $2, $3::jsonb)",
                        step_uuids, to, metadata,
                        [](const std::string& s) { return parse_step_state(s); });
}

task_state current_task_state(pqxx::transaction_base& tx, const std::string& task_uuid) {
  auto rows = detail::translating([&] {
    return tx.exec_params("SELECT current_state FROM tasker_task_states($1::uuid[])",
                          detail::pg_array({task_uuid}));
  });
  if (rows.empty())
    throw store_error(store_errc::not_found, "task " + task_uuid + " does not exist");
  return parse_task_state(rows[0][0].as<std::string>());
}

step_state current_step_state(pqxx::transaction_base& tx, const std::string& step_uuid) {
  auto rows = detail::translating([&] {
    return tx.exec_params("SELECT current_state FROM tasker_step_states($1::uuid[])",
                          detail::pg_array({step_uuid}));
  });
  if (rows.empty())
    throw store_error(store_errc::not_found, "workflow step " + step_uuid + " does not exist");
  return parse_step_state(rows[0][0].as<std::string>());
}

std::vector<transition_record> task_transition_history(pqxx::transaction_base& tx,
                                                       const std::string& task_uuid) {
  auto rows = detail::translating([&] {
    return tx.exec_params("SELECT from_state, to_state, metadata, sort_key, most_recent,"
                          " (extract(epoch FROM created_at) * 1000000)::bigint"
                          " FROM tasker_task_transition_history($1::uuid)",
                          task_uuid);
  });
  return read_history(rows, false);
}

std::vector<transition_record> step_transition_history(pqxx::transaction_base& tx,
                                                       const std::string& task_uuid) {
  auto rows = detail::translating([&] {
    return tx.exec_params(
        "SELECT workflow_step_uuid, step_name, from_state, to_state, metadata, sort_key,"
        " most_recent, (extract(epoch FROM created_at) * 1000000)::bigint"
        " FROM tasker_step_transition_history($1::uuid)",
        task_uuid);
  });
  return read_history(rows, true);
}

} // namespace tasker::resources
