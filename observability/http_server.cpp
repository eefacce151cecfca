#include "observability/http_server.hpp"

#include "observability/health_report.hpp"
#include "observability/status_page.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <stdexcept>

namespace tasker::observability {

namespace {

void send_json(httplib::Response& res, const health_response& answer) {
  res.status = answer.status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(answer.body.dump(), "application/json");
}

unsigned cores_of(const node_info& info) {
  return info.detected.cpu_cores > 0 ? info.detected.cpu_cores : resources::cpu_cores();
}

} // namespace

http_server::http_server(caf::actor_system& sys, caf::actor coordinator, node_info info,
                         std::function<bool()> migrated, std::function<bool()> broker_connected,
                         snapshot_cache_options cache_options)
    : info_(std::move(info)), migrated_(std::move(migrated)),
      broker_connected_(std::move(broker_connected)),
      cache_(sys, std::move(coordinator), cores_of(info_), cache_options), metrics_(info_),
      server_(std::make_unique<httplib::Server>()) {
  install_routes();
}

http_server::~http_server() {
  stop();
}

void http_server::install_routes() {
  auto& srv = *server_;
  srv.Get("/", [](const httplib::Request&, httplib::Response& res) {
    auto page = status_page_html();
    res.set_content(page.data(), page.size(), "text/html; charset=utf-8");
  });
  srv.Get("/health/live",
          [](const httplib::Request&, httplib::Response& res) { send_json(res, liveness()); });
  srv.Get("/health/ready", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, readiness(cache_.current(), migrated_ && migrated_(),
                             broker_connected_ && broker_connected_()));
  });
  srv.Get("/health/orchestration", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, orchestration_health(cache_.current(), info_));
  });
  srv.Get("/health/orchestration/resources",
          [this](const httplib::Request&, httplib::Response& res) {
            send_json(res, resource_health(cache_.current(), info_));
          });
  const auto& metrics = info_.config.telemetry.metrics;
  if (metrics.enabled) {
    srv.Get(metrics.path, [this](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content(metrics_.scrape(cache_.current()), "text/plain; version=0.0.4");
    });
  }
  srv.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        res.status = 500;
        res.set_content(nlohmann::json{{"status", "error"}, {"error", what}}.dump(),
                        "application/json");
      });
  // Short timeouts bound stop(): a worker notices the stop only between
  // requests, after an idle keep-alive wait or a stalled read.
  srv.set_keep_alive_timeout(1);
  srv.set_read_timeout(std::chrono::seconds{2});
  srv.set_write_timeout(std::chrono::seconds{5});
  // httplib's default adds SO_REUSEPORT, which would let a second node bind
  // the same port and silently split the probes between the two.
  srv.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  srv.set_payload_max_length(64 * 1024); // GET only: no request needs a body
}

void http_server::start(const std::string& bind_address, std::uint16_t port) {
  if (thread_.joinable())
    throw std::runtime_error("http server already started on port " + std::to_string(port_));
  int bound = port == 0 ? server_->bind_to_any_port(bind_address)
                        : (server_->bind_to_port(bind_address, port) ? port : -1);
  if (bound <= 0)
    throw std::runtime_error("cannot bind the HTTP endpoint to " + bind_address + ":" +
                             std::to_string(port));
  port_ = static_cast<std::uint16_t>(bound);
  listen_done_ = false;
  thread_ = std::thread{[this] {
    server_->listen_after_bind();
    listen_done_ = true;
  }};
  // stop() is a no-op until the server runs, so do not return before it does.
  while (!server_->is_running() && !listen_done_)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  if (!server_->is_running()) {
    thread_.join();
    throw std::runtime_error("the HTTP endpoint on " + bind_address + ":" + std::to_string(port_) +
                             " stopped at once");
  }
}

void http_server::stop() {
  if (!thread_.joinable())
    return;
  server_->stop();
  thread_.join();
}

} // namespace tasker::observability
