#include "resources/store_nodes.hpp"
#include "tools/taskerctl/inspect_commands.hpp"
#include "tools/taskerctl/support.hpp"

#include <ctime>
#include <iomanip>
#include <ostream>
#include <sstream>

namespace tasker::tools::ctl {

namespace {

std::string iso_seconds(std::chrono::system_clock::time_point t) {
  auto time = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&time, &utc);
  std::ostringstream out;
  out << std::put_time(&utc, "%Y-%m-%d %H:%M:%SZ");
  return out.str();
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string pool_list(const nlohmann::json& pools) {
  std::string out;
  for (auto& p : pools) {
    if (!out.empty())
      out += ' ';
    out += p.value("name", std::string{"?"});
    if (p.contains("min") && p.contains("max"))
      out += "[" + p["min"].dump() + ".." + p["max"].dump() + "]";
  }
  return out.empty() ? "-" : out;
}

} // namespace

int cluster_cmd(const std::string& database_url, bool all, bool json, std::ostream& out,
                std::ostream& err) {
  return run_guarded(err, [&] {
    auto conn = open_database(database_url);
    pqxx::read_transaction tx{conn};
    auto nodes = resources::list_nodes(tx, !all);
    if (json) {
      auto doc = nlohmann::json::array();
      for (auto& n : nodes)
        doc.push_back({{"node_id", n.node.node_id}, {"hostname", n.node.hostname},
                       {"pid", n.node.pid}, {"inspector", n.node.inspector_address},
                       {"http", n.node.http_address}, {"pools", n.node.pools},
                       {"status", std::string{resources::to_string(n.status)}},
                       {"started_at", iso_seconds(n.started_at)},
                       {"heartbeat_at", iso_seconds(n.heartbeat_at)}});
      out << doc.dump(2) << '\n';
      return exit_ok;
    }
    text_table t{{"NODE", "STATUS", "HOST", "PID", "INSPECTOR", "HTTP", "POOLS", "HEARTBEAT"}};
    for (auto& n : nodes)
      t.add({n.node.node_id, std::string{resources::to_string(n.status)}, n.node.hostname,
             std::to_string(n.node.pid), or_dash(n.node.inspector_address),
             or_dash(n.node.http_address), pool_list(n.node.pools),
             iso_seconds(n.heartbeat_at)});
    t.print(out);
    if (nodes.empty())
      out << (all ? "no nodes registered\n" : "no live nodes\n");
    return exit_ok;
  });
}

} // namespace tasker::tools::ctl
