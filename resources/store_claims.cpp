#include "resources/store_claims.hpp"

namespace tasker::resources {

namespace {

std::vector<std::string> uuid_column(const pqxx::result& rows) {
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (const auto& row : rows)
    out.push_back(row[0].as<std::string>());
  return out;
}

} // namespace

std::vector<claimed_task> claim_ready_tasks(pqxx::transaction_base& tx, std::string_view node_id,
                                            std::int32_t limit, std::int32_t claim_timeout_seconds,
                                            double aging_seconds) {
  auto rows = detail::translating([&] {
    return tx.exec_params("SELECT task_uuid, namespace_name, priority, effective_priority,"
                          " (extract(epoch FROM claimed_at) * 1000000)::bigint"
                          " FROM tasker_claim_ready_tasks($1, $2, $3, $4)"
                          " ORDER BY effective_priority DESC",
                          std::string{node_id}, limit, claim_timeout_seconds, aging_seconds);
  });
  std::vector<claimed_task> out;
  out.reserve(rows.size());
  for (const auto& row : rows)
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::int32_t>(),
                   row[3].as<double>(),
                   std::chrono::system_clock::time_point{
                       std::chrono::microseconds{row[4].as<std::int64_t>()}}});
  return out;
}

std::vector<std::string> release_claims(pqxx::transaction_base& tx,
                                        const std::vector<std::string>& task_uuids,
                                        std::string_view node_id) {
  if (task_uuids.empty())
    return {};
  return uuid_column(detail::translating([&] {
    return tx.exec_params("SELECT * FROM tasker_release_claims($1::uuid[], $2)",
                          detail::pg_array(task_uuids), std::string{node_id});
  }));
}

std::vector<std::string> extend_claims(pqxx::transaction_base& tx,
                                       const std::vector<std::string>& task_uuids,
                                       std::string_view node_id) {
  if (task_uuids.empty())
    return {};
  return uuid_column(detail::translating([&] {
    return tx.exec_params("SELECT * FROM tasker_extend_claims($1::uuid[], $2)",
                          detail::pg_array(task_uuids), std::string{node_id});
  }));
}

} // namespace tasker::resources
