#include "resources/store_tasks.hpp"

namespace tasker::resources {

nlohmann::json to_json(const task_request& request) {
  nlohmann::json out = {{"namespace", request.namespace_name}, {"task_name", request.task_name},
                        {"context", request.context},          {"priority", request.priority},
                        {"initiator", request.initiator},      {"reason", request.reason}};
  if (!request.task_version.empty())
    out["task_version"] = request.task_version;
  if (!request.request_id.empty())
    out["request_id"] = request.request_id;
  if (!request.message_key.empty())
    out["message_key"] = request.message_key;
  if (!request.enqueued_at.empty())
    out["enqueued_at"] = request.enqueued_at;
  return out;
}

std::vector<created_task> create_tasks(pqxx::transaction_base& tx, const nlohmann::json& requests) {
  std::vector<created_task> out;
  if (requests.is_array() && requests.empty())
    return out;
  auto rows = detail::translating([&] {
    return tx.exec_params(
        "SELECT task_uuid, duplicate FROM tasker_create_tasks($1::jsonb) ORDER BY ordinal",
        requests.dump());
  });
  out.reserve(rows.size());
  for (const auto& row : rows)
    out.push_back({row[0].as<std::string>(), row[1].as<bool>()});
  return out;
}

std::vector<created_task> create_tasks(pqxx::transaction_base& tx,
                                       const std::vector<task_request>& requests) {
  auto batch = nlohmann::json::array();
  for (const auto& r : requests)
    batch.push_back(to_json(r));
  return create_tasks(tx, batch);
}

created_task create_task(pqxx::transaction_base& tx, const task_request& request) {
  return create_tasks(tx, std::vector<task_request>{request}).at(0);
}

} // namespace tasker::resources
