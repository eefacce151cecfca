#pragma once
/// The node's HTTP endpoint: health probes, Prometheus metrics and the status
/// page, on one loopback port by default.
///
///   GET /                               status page (HTML, polls the JSON below)
///   GET /health/live                    200 {"status":"alive"} while serving
///   GET /health/ready                   200 when ready to work, else 503 naming the failed checks
///   GET /health/orchestration           pools, coordinator and database status
///   GET /health/orchestration/resources limits, utilization and executor budget
///   GET <telemetry.metrics.path>        Prometheus text (default /metrics)
///
/// Every answer comes from one coordinator snapshot (`status_atom`), fetched
/// from the HTTP thread with a blocking request and reused for up to 250 ms:
/// a probe never does orchestration work and never touches the database.
///
/// Shutdown contract: stop() stops accepting connections, lets in-flight
/// requests finish and joins the server thread; it is idempotent and the
/// destructor calls it. Idle keep-alive connections are closed within a
/// second and stalled reads within two, so stop() returns within about two
/// seconds plus the longest in-flight request (a status request is bounded
/// by its timeout). Stop the server before the actor system goes away.

#include "observability/metrics_exporter.hpp"
#include "observability/node_info.hpp"
#include "observability/snapshot_cache.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
} // namespace httplib

namespace tasker::observability {

/// Serves /, /health/live, /health/ready, /health/orchestration,
/// /health/orchestration/resources and /metrics.
class http_server {
public:
  /// Prepares the routes; nothing listens before start(). `migrated` and
  /// `broker_connected` feed /health/ready and must be cheap (no I/O).
  http_server(caf::actor_system& sys, caf::actor coordinator, node_info info,
              std::function<bool()> migrated, std::function<bool()> broker_connected,
              snapshot_cache_options cache_options = {});

  /// Stops the server (see the shutdown contract).
  ~http_server();

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds `bind_address:port` (port 0 picks a free one) and serves on a
  /// background thread; returns once the server accepts connections. Throws
  /// std::runtime_error naming the address when it cannot bind, or when
  /// already started.
  void start(const std::string& bind_address, std::uint16_t port);

  /// The bound port; 0 before start().
  std::uint16_t port() const noexcept { return port_; }

  /// Stops accepting, finishes in-flight requests and joins the server thread.
  void stop();

private:
  void install_routes();

  node_info info_;
  std::function<bool()> migrated_;
  std::function<bool()> broker_connected_;
  snapshot_cache cache_;
  metrics_exporter metrics_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> listen_done_{false};
  std::uint16_t port_ = 0;
};

} // namespace tasker::observability
