/// The node's outward-facing services: the inspector, the HTTP endpoint and
/// cluster membership, started once the coordinator runs.

#include "node/node.hpp"

#include "coordinator/cluster_member.hpp"
#include "coordinator/inspector.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

namespace tasker::node {

namespace {

std::string local_hostname() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0)
    return "localhost";
  return host;
}

// Where a peer reaches a service bound to `bind` on `port`: a wildcard bind
// is reported as loopback, like the default bind.
std::string service_address(const std::string& bind, std::uint16_t port) {
  if (port == 0)
    return "";
  auto host = (bind.empty() || bind == "0.0.0.0" || bind == "::") ? std::string{"127.0.0.1"}
                                                                   : bind;
  return host + ":" + std::to_string(port);
}

// Clears `flag` when `who` terminates (at once when it already has).
void clear_on_exit(const caf::actor& who, std::shared_ptr<std::atomic<bool>> flag) {
  flag->store(true);
  who->attach_functor([flag] { flag->store(false); });
}

} // namespace

bool node::running() const noexcept {
  return running_ && coordinator_alive_->load();
}

void node::start_telemetry() {
  clear_on_exit(coordinator_, coordinator_alive_);
  clear_on_exit(broker_, broker_alive_);
  const auto& tel = cfg_.telemetry;
  if (tel.inspector.enabled) {
    bool tls = tel.inspector.tls.enabled;
    auto port = coordinator::publish_inspector(
      *sys_, coordinator_, broker_, tel.inspector.bind_address,
      static_cast<std::uint16_t>(tel.inspector.port), {},
      tls ? coordinator::inspector_transport::tls : coordinator::inspector_transport::tcp);
    if (!port) {
      auto where = tel.inspector.bind_address + ":" + std::to_string(tel.inspector.port);
      // Refused credentials are invalid_argument with a sentence naming the file.
      if (port.error() == caf::sec::invalid_argument)
        throw node_error(2, "cannot publish the inspector on " + where + " over TLS: "
                              + coordinator::inspector_error_text(port.error())
                              + " (telemetry.inspector.tls)");
      throw node_error(1, "cannot publish the inspector on " + where + ": "
                            + sys_->render(port.error())
                            + " (choose another telemetry.inspector.port)");
    }
    inspector_port_ = *port;
    spdlog::info("inspector on {}:{}{}", tel.inspector.bind_address, inspector_port_,
                 tls ? " (TLS)" : "");
  }
  if (tel.http.enabled) {
    observability::node_info info;
    info.node_id = node_id_;
    info.started_at = started_at_;
    info.config = cfg_;
    info.detected = detected_;
    info.budget = budget_check_;
    info.config_load_time = options_.config_load_time;
    auto broker_alive = broker_alive_;
    http_ = std::make_unique<observability::http_server>(
      *sys_, coordinator_, std::move(info), [migrated = migrated_] { return migrated; },
      [broker_alive] { return broker_alive->load(); });
    try {
      http_->start(tel.http.bind_address, static_cast<std::uint16_t>(tel.http.port));
    } catch (const std::exception& e) {
      throw node_error(1, std::string{"cannot serve HTTP: "} + e.what()
                            + " (choose another telemetry.http.port)");
    }
    http_port_ = http_->port();
    spdlog::info("HTTP endpoint on {}:{}", tel.http.bind_address, http_port_);
  }
}

void node::start_membership() {
  coordinator::cluster_member_options mo;
  mo.database_url = cfg_.database.url;
  mo.node.node_id = node_id_;
  mo.node.hostname = local_hostname();
  mo.node.pid = static_cast<std::int32_t>(getpid());
  mo.node.inspector_address =
    service_address(cfg_.telemetry.inspector.bind_address, inspector_port_);
  mo.node.http_address = service_address(cfg_.telemetry.http.bind_address, http_port_);
  auto pools = nlohmann::json::array();
  for (const auto& [type, pool] : cfg_.pools)
    pools.push_back({{"name", std::string{config::to_string(type)}},
                     {"min", pool.min_executors},
                     {"max", pool.max_executors}});
  mo.node.pools = std::move(pools);
  // Node heartbeats are far less frequent than executor heartbeats: a peer
  // is swept as dead after three missed beats.
  auto interval = std::chrono::milliseconds{
    std::max(cfg_.orchestration.heartbeat_interval_ms * 5, 1000)};
  mo.heartbeat_interval = std::chrono::duration_cast<caf::timespan>(interval);
  mo.stale_after = std::chrono::duration_cast<caf::timespan>(interval * 3);
  mo.watch = coordinator_;
  auto member = coordinator::spawn_cluster_member(*sys_, std::move(mo));
  if (!member)
    throw node_error(1, "cannot register the node in the cluster: "
                          + sys_->render(member.error()));
  member_ = *member;
}

} // namespace tasker::node
