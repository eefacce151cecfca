#pragma once
/// The orchestration node: everything `tasker-node run` starts, in one object.
///
/// Start-up (`start`), in order, each step failing with a `node_error` a
/// person can act on:
///   1. schema check: the database must be migrated (or `migrate` is set);
///   2. the orchestration queues (task requests, step results) are created
///      when missing;
///   3. resource detection and the executor budget: a configuration that does
///      not fit refuses to start (exit code 2, the numbers in the message);
///   4. the CAF actor system (middleman loaded, message types registered);
///   5. the broker (size = the executor budget: pool size − reserved), the
///      notification listener and the queue-depth poller (each one reserved
///      connection), the coordinator with one pool per executor type, and
///      the embedded worker groups (`worker_namespaces`).
///
/// Once the coordinator runs, the node also publishes the inspector
/// (telemetry.inspector, when enabled), serves the HTTP endpoint
/// (telemetry.http, when enabled) and registers itself in the `nodes` table
/// through its cluster member, which heartbeats and marks the node stopped
/// when the coordinator ends — after `stop` or after a drain through the
/// inspector, which `running()` then reports as false.
///
/// Shutdown contract (`stop`, also run by the destructor): the HTTP server
/// stops first (no probe races the teardown), then the node stops taking work —
/// the embedded workers drain first so no step is cut short, then the
/// coordinator drains every pool (executors finish their batch and return
/// their lease) and closes the broker, then the listener and the poller quit.
/// The whole sequence is bounded by orchestration.drain_timeout_seconds;
/// what is still running after that is killed, and work it held reappears in
/// its queue after the visibility timeout, so nothing is lost.

#include "actors/executor.hpp"
#include "config/tasker_config.hpp"
#include "messaging/messages.hpp"
#include "observability/http_server.hpp"
#include "resources/budget.hpp"
#include "resources/detection.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tasker::node {

/// What `tasker-node run` adds to the configuration.
struct node_options {
  /// This node's id in claims and logs; empty: the configured or "<host>-<pid>" id.
  std::string node_id;
  /// One executor per type, batch size 1, no scaling: the baseline for benchmarks.
  bool naive = false;
  /// Namespaces whose step queues an embedded worker group consumes.
  std::vector<std::string> worker_namespaces;
  /// Concurrent steps per embedded worker group.
  std::size_t worker_concurrency = 4;
  /// Apply pending migrations instead of refusing to start.
  bool migrate = false;
  /// CAF scheduler threads; 0 picks 2 (executors run detached, off the scheduler).
  std::size_t scheduler_threads = 0;
  /// How long loading the configuration took; reported by the HTTP metrics.
  std::chrono::duration<double> config_load_time{0};
};

/// Start-up failed; `exit_code()` is what `tasker-node run` exits with.
class node_error : public std::runtime_error {
public:
  /// `what` must say what to do about it.
  node_error(int exit_code, const std::string& what)
    : std::runtime_error(what), exit_code_(exit_code) {}

  /// 2 for a configuration or budget that cannot work, 1 otherwise.
  int exit_code() const noexcept { return exit_code_; }

private:
  int exit_code_;
};

/// A running orchestration node; see the file comment for start-up and shutdown.
class node {
public:
  /// Keeps the configuration; nothing runs until `start`.
  node(config::tasker_config cfg, node_options options);

  /// Runs `stop`.
  ~node();

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// Checks, spawns and returns once everything runs; throws node_error.
  void start();

  /// Graceful, bounded shutdown (see the file comment); idempotent.
  /// Returns the coordinator's final snapshot when it finished in time.
  std::optional<messaging::coordinator_snapshot> stop();

  /// The coordinator's current snapshot, or nothing when it did not answer in `timeout`.
  std::optional<messaging::coordinator_snapshot>
  status(std::chrono::milliseconds timeout = std::chrono::seconds{5});

  // -- seams for the HTTP endpoint, cluster membership and tests ------------

  /// The configuration the node runs with (naive mode applied).
  const config::tasker_config& config() const noexcept { return cfg_; }
  /// The node's id.
  const std::string& node_id() const noexcept { return node_id_; }
  /// The options given at construction.
  const node_options& options() const noexcept { return options_; }
  /// When `start` returned.
  std::chrono::system_clock::time_point started_at() const noexcept { return started_at_; }
  /// What resource detection found.
  const resources::system_resources& detected() const noexcept { return detected_; }
  /// The executor budget the node runs within.
  const resources::resource_budget& budget() const noexcept { return budget_; }
  /// The actor system; valid after `start`.
  caf::actor_system& system();
  /// The coordinator; null before `start` and after `stop`.
  const caf::actor& coordinator() const noexcept { return coordinator_; }
  /// The connection broker; null before `start` and after `stop`.
  const caf::actor& broker() const noexcept { return broker_; }
  /// The notification listener; null before `start` and after `stop`.
  const caf::actor& listener() const noexcept { return listener_; }
  /// The cluster member; null before `start` and after `stop`.
  const caf::actor& cluster_member() const noexcept { return member_; }
  /// The HTTP endpoint's bound port; 0 when disabled or not started.
  std::uint16_t http_port() const noexcept { return http_port_; }
  /// The inspector's bound port; 0 when disabled or not started.
  std::uint16_t inspector_port() const noexcept { return inspector_port_; }
  /// True between a successful `start` and `stop`, unless the coordinator
  /// ended by itself (a drain through the inspector): then the node is done
  /// and the caller should `stop` it.
  bool running() const noexcept;

private:
  void read_fault_injection();
  void check_database();
  void check_budget();
  void start_actors();
  void start_workers();
  void start_telemetry();
  void start_membership();

  config::tasker_config cfg_;
  node_options options_;
  std::string node_id_;
  resources::system_resources detected_;
  resources::resource_budget budget_;
  resources::budget_check budget_check_;
  actors::fault_injection faults_;
  std::chrono::system_clock::time_point started_at_{};
  std::unique_ptr<caf::actor_system_config> sys_cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::actor broker_;
  caf::actor listener_;
  caf::actor poller_;
  caf::actor coordinator_;
  std::vector<caf::actor> workers_;
  caf::actor member_;
  std::unique_ptr<observability::http_server> http_;
  std::uint16_t http_port_ = 0;
  std::uint16_t inspector_port_ = 0;
  bool migrated_ = false;
  // Cleared by functors attached to the actors when they terminate.
  std::shared_ptr<std::atomic<bool>> broker_alive_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> coordinator_alive_ =
    std::make_shared<std::atomic<bool>>(false);
  bool running_ = false;
};

/// `cfg` turned into the naive baseline: every pool min = max = 1, batch size
/// 1, auto-scaling off.
config::tasker_config naive_config(config::tasker_config cfg);

} // namespace tasker::node
