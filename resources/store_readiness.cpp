#include "resources/store_readiness.hpp"

#include <stdexcept>

namespace tasker::resources {

namespace {

constexpr execution_status all_statuses[] = {
    execution_status::all_complete, execution_status::has_ready_steps, execution_status::processing,
    execution_status::blocked_by_failures, execution_status::waiting_for_dependencies};

} // namespace

std::vector<ready_step> ready_steps(pqxx::transaction_base& tx,
                                    const std::vector<std::string>& task_uuids,
                                    const std::optional<std::string>& queue_suffix) {
  std::vector<ready_step> out;
  if (task_uuids.empty())
    return out;
  // Prepared once per connection: every dispatch runs it, and planning it was
  // a third of its time. Rows in the form the result and request batches
  // return them too (tasker_ready_step_objects), so one parser reads all.
  static const char* const name = "tasker_ready_steps";
  auto rows = detail::translating([&] {
    return detail::exec_prepared_once(
        tx, name, "SELECT r FROM tasker_ready_step_objects($1::uuid[], $2::text) r",
        detail::pg_array(task_uuids),
        // a null pointer is sent as SQL NULL
        queue_suffix ? queue_suffix->c_str() : static_cast<const char*>(nullptr));
  });
  out.reserve(rows.size());
  for (const auto& row : rows)
    out.push_back(ready_step_from_json(nlohmann::json::parse(row[0].c_str())));
  return out;
}

ready_step ready_step_from_json(const nlohmann::json& row) {
  auto field = [&](const char* key) -> const nlohmann::json& {
    if (!row.is_object() || !row.contains(key))
      throw std::invalid_argument(std::string{"ready step: missing field "} + key);
    return row.at(key);
  };
  try {
    ready_step s;
    s.task_uuid = field("task_uuid").get<std::string>();
    s.step_uuid = field("workflow_step_uuid").get<std::string>();
    s.namespace_name = field("namespace_name").get<std::string>();
    s.step_name = field("step_name").get<std::string>();
    s.handler = field("handler").get<std::string>();
    s.state = parse_step_state(field("current_state").get<std::string>());
    s.attempts = field("attempts").get<std::int32_t>();
    s.retry_limit = field("retry_limit").get<std::int32_t>();
    s.timeout_seconds = field("timeout_seconds").get<std::int32_t>();
    s.inputs = field("inputs");
    s.task_context = field("task_context");
    s.parent_results = field("parent_results");
    s.queue_exists = row.value("queue_exists", true);
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string{"ready step: "} + e.what());
  }
}

std::string_view to_string(execution_status status) noexcept {
  switch (status) {
  case execution_status::all_complete:
    return "all_complete";
  case execution_status::has_ready_steps:
    return "has_ready_steps";
  case execution_status::processing:
    return "processing";
  case execution_status::blocked_by_failures:
    return "blocked_by_failures";
  case execution_status::waiting_for_dependencies:
    return "waiting_for_dependencies";
  }
  return "unknown";
}

execution_status parse_execution_status(std::string_view name) {
  for (auto s : all_statuses)
    if (to_string(s) == name)
      return s;
  throw std::invalid_argument("unknown execution status \"" + std::string{name} + "\"");
}

std::vector<execution_context> execution_contexts(pqxx::transaction_base& tx,
                                                  const std::vector<std::string>& task_uuids) {
  std::vector<execution_context> out;
  if (task_uuids.empty())
    return out;
  auto rows = detail::translating([&] {
    return tx.exec_params(
        "SELECT task_uuid, task_state, total_steps, pending_steps, enqueued_steps,"
        " in_progress_steps, complete_steps, error_steps, failed_steps, cancelled_steps,"
        " ready_steps, backing_off_steps, status"
        " FROM tasker_task_execution_contexts($1::uuid[])",
        detail::pg_array(task_uuids));
  });
  out.reserve(rows.size());
  for (const auto& row : rows) {
    execution_context c;
    c.task_uuid = row[0].as<std::string>();
    c.state = parse_task_state(row[1].as<std::string>());
    c.total = row[2].as<std::int32_t>();
    c.pending = row[3].as<std::int32_t>();
    c.enqueued = row[4].as<std::int32_t>();
    c.in_progress = row[5].as<std::int32_t>();
    c.complete = row[6].as<std::int32_t>();
    c.error = row[7].as<std::int32_t>();
    c.failed = row[8].as<std::int32_t>();
    c.cancelled = row[9].as<std::int32_t>();
    c.ready = row[10].as<std::int32_t>();
    c.backing_off = row[11].as<std::int32_t>();
    c.status = parse_execution_status(row[12].as<std::string>());
    out.push_back(std::move(c));
  }
  return out;
}

execution_context task_execution_context(pqxx::transaction_base& tx, const std::string& task_uuid) {
  auto all = execution_contexts(tx, {task_uuid});
  if (all.empty())
    throw store_error(store_errc::not_found, "task " + task_uuid + " does not exist");
  return all.front();
}

} // namespace tasker::resources
