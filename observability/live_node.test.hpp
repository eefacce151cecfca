#pragma once
/// Test support: a coordinator on a real threaded actor system with the HTTP
/// server in front of it, an HTTP client on 127.0.0.1 and a checker for the
/// Prometheus text format.

#include "actors/executor.hpp"
#include "coordinator/coordinator_actor.hpp"
#include "messaging/messages.hpp"
#include "observability/exposition.test.hpp"
#include "observability/http_server.hpp"
#include "resources/broker.hpp"
#include "tests/actors/test_executors.hpp"
#include "tests/support/scratch_db.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace tasker::testing {

/// An actor system config with every runtime message type registered.
struct live_config : caf::actor_system_config {
  live_config() {
    messaging::add_message_types(*this);
    set("scheduler.max-threads", 2);
  }
};

/// One pool of the live node.
struct live_pool {
  std::string name;
  std::size_t executors;
};

/// A coordinator, optionally a broker on a scratch database with scripted
/// executors, and the HTTP server on an ephemeral loopback port.
class live_node {
public:
  /// With `database`, pools run real executors leasing from a broker of
  /// `broker_size` connections; without, probe executors that never heartbeat.
  live_node(
      std::vector<live_pool> pools, bool database, std::size_t broker_size = 4,
      std::function<bool()> migrated = [] { return true; })
      : sys_(cfg_) {
    using namespace std::chrono_literals;
    if (database) {
      db_.emplace(false);
      auto broker =
          resources::spawn_broker(sys_, resources::broker_options{db_->url(), broker_size});
      REQUIRE(broker);
      broker_ = *broker;
    }
    coordinator::coordinator_options o;
    o.health_interval = 100ms;
    o.scaling_interval = 1s;
    o.auto_scaling = false;
    o.health.heartbeat_interval = 200ms;
    o.health.stale_after_intervals = 50; // a loaded test machine must not look stuck
    o.shutdown_timeout = 10s;
    for (auto& p : pools) {
      coordinator::pool_spec spec;
      spec.options.name = p.name;
      spec.options.min = spec.options.max = p.executors;
      spec.options.stop_timeout = 5s;
      if (database) {
        actors::executor_options eo;
        eo.heartbeat_interval = 200ms;
        eo.poll_interval = 50ms;
        eo.health.heartbeat_interval = 200ms;
        auto script = std::make_shared<processor_script>();
        script->items_per_batch = 1;
        spec.factory = actors::make_executor_factory(
            eo, [script] { return std::make_shared<scripted_processor>(script); });
      } else {
        spec.options.detached = false;
        spec.factory = probe_factory(probes_);
      }
      o.pools.push_back(spec);
    }
    coord_ = sys_.spawn(coordinator::coordinator_actor, o, broker_, caf::actor{});
    info_.node_id = "test-node";
    info_.detected = resources::detect_local(info_.config.database);
    info_.budget = resources::calculate_budget(info_.config, &info_.detected);
    info_.config_load_time = std::chrono::milliseconds{12};
    server_ = std::make_unique<observability::http_server>(sys_, coord_, info_, std::move(migrated),
                                                           [this] { return !!broker_ || !db_; });
    server_->start(info_.config.telemetry.http.bind_address, 0);
  }

  ~live_node() {
    server_->stop();
    {
      caf::scoped_actor self{sys_};
      self->request(coord_, std::chrono::seconds{30}, messaging::shutdown_atom::value)
          .receive([](const messaging::coordinator_snapshot&) {},
                   [&](const caf::error&) { self->send_exit(coord_, caf::exit_reason::kill); });
      for (auto& probe : *probes_)
        self->send_exit(probe, caf::exit_reason::kill);
      if (broker_)
        self->send_exit(broker_, caf::exit_reason::kill);
    }
  }

  /// The server under test.
  observability::http_server& server() { return *server_; }
  /// The coordinator.
  const caf::actor& coordinator() const { return coord_; }
  /// The node description handed to the server.
  const observability::node_info& info() const { return info_; }
  /// The actor system.
  caf::actor_system& system() { return sys_; }

  /// GET `path` on 127.0.0.1:port(); fails the test when there is no answer.
  httplib::Result get(const std::string& path) {
    httplib::Client cli{"127.0.0.1", server_->port()};
    cli.set_connection_timeout(std::chrono::seconds{5});
    cli.set_read_timeout(std::chrono::seconds{10});
    auto res = cli.Get(path);
    REQUIRE_MESSAGE(res, "no answer from " << path);
    return res;
  }

  /// GET `path` parsed as JSON.
  nlohmann::json get_json(const std::string& path, int* status = nullptr) {
    auto res = get(path);
    if (status)
      *status = res->status;
    auto body = nlohmann::json::parse(res->body, nullptr, false);
    REQUIRE_MESSAGE(!body.is_discarded(), path << " answered with invalid JSON: " << res->body);
    return body;
  }

  /// Polls `path` until `done(json)` holds or `deadline` passes; returns the last body.
  nlohmann::json wait_for(const std::string& path,
                          std::function<bool(const nlohmann::json&, int)> done,
                          std::chrono::seconds deadline = std::chrono::seconds{30}) {
    auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      int status = 0;
      auto body = get_json(path, &status);
      if (done(body, status) || std::chrono::steady_clock::now() > until)
        return body;
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
  }

private:
  live_config cfg_;
  // Dropped last: the actor system (and with it every connection) goes first.
  std::optional<scratch_db> db_;
  caf::actor_system sys_;
  caf::actor broker_;
  caf::actor coord_;
  std::shared_ptr<std::vector<caf::actor>> probes_ = std::make_shared<std::vector<caf::actor>>();
  observability::node_info info_;
  std::unique_ptr<observability::http_server> server_;
};

} // namespace tasker::testing
