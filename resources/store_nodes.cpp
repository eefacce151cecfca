#include "resources/store_nodes.hpp"

#include <stdexcept>

namespace tasker::resources {

namespace {

std::chrono::system_clock::time_point from_micros(const pqxx::field& f) {
  return std::chrono::system_clock::time_point{std::chrono::microseconds{f.as<std::int64_t>()}};
}

} // namespace

std::string_view to_string(node_status x) noexcept {
  switch (x) {
    case node_status::live: return "live";
    case node_status::dead: return "dead";
    case node_status::stopped: return "stopped";
  }
  return "unknown";
}

node_status parse_node_status(std::string_view text) {
  for (auto x : {node_status::live, node_status::dead, node_status::stopped})
    if (to_string(x) == text)
      return x;
  throw std::invalid_argument("unknown node status '" + std::string{text} + "'");
}

void register_node(pqxx::transaction_base& tx, const node_registration& node) {
  tx.exec_params("SELECT tasker_register_node($1, $2, $3, $4, $5, $6::jsonb)", node.node_id,
                 node.hostname, node.pid, node.inspector_address, node.http_address,
                 node.pools.dump());
}

std::optional<node_status> heartbeat_node(pqxx::transaction_base& tx, std::string_view node_id) {
  auto rows = tx.exec_params("SELECT previous_status FROM tasker_heartbeat_node($1)",
                             std::string{node_id});
  if (rows.empty())
    return std::nullopt;
  return parse_node_status(rows[0][0].as<std::string>());
}

bool mark_node_stopped(pqxx::transaction_base& tx, std::string_view node_id) {
  return tx.exec_params1("SELECT tasker_mark_node_stopped($1)", std::string{node_id})[0]
    .as<bool>();
}

std::vector<std::string> mark_dead_nodes(pqxx::transaction_base& tx,
                                         std::chrono::milliseconds stale_after) {
  std::vector<std::string> out;
  for (const auto& row : tx.exec_params(
         "SELECT node_id FROM tasker_mark_dead_nodes(make_interval(secs => $1::float8 / 1000))",
         static_cast<std::int64_t>(stale_after.count())))
    out.push_back(row[0].as<std::string>());
  return out;
}

std::vector<node_record> list_nodes(pqxx::transaction_base& tx, bool live_only) {
  auto rows = tx.exec_params(
    "SELECT node_id, hostname, pid, inspector_address, http_address, pools::text,"
    " (extract(epoch FROM started_at) * 1000000)::bigint,"
    " (extract(epoch FROM heartbeat_at) * 1000000)::bigint, status"
    " FROM nodes WHERE NOT $1 OR status = 'live' ORDER BY node_id",
    live_only);
  std::vector<node_record> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    node_record r;
    r.node.node_id = row[0].as<std::string>();
    r.node.hostname = row[1].as<std::string>();
    r.node.pid = row[2].as<std::int32_t>();
    r.node.inspector_address = row[3].as<std::string>();
    r.node.http_address = row[4].as<std::string>();
    r.node.pools = nlohmann::json::parse(row[5].as<std::string>());
    r.started_at = from_micros(row[6]);
    r.heartbeat_at = from_micros(row[7]);
    r.status = parse_node_status(row[8].as<std::string>());
    out.push_back(std::move(r));
  }
  return out;
}

} // namespace tasker::resources
