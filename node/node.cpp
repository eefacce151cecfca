#include "node/node.hpp"

#include "actors/handlers/handler_registry.hpp"
#include "actors/notify_listener.hpp"
#include "actors/worker.hpp"
#include "coordinator/coordinator_actor.hpp"
#include "coordinator/inspector.hpp"
#include "messaging/queue_client.hpp"
#include "node/pool_specs.hpp"
#include "node/queue_depth_poller.hpp"
#include "resources/broker.hpp"
#include "resources/migrate.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <sstream>

namespace tasker::node {

using namespace std::chrono_literals;

namespace {

std::string join_lines(const std::vector<std::string>& lines) {
  std::ostringstream out;
  for (const auto& line : lines)
    out << "\n  " << line;
  return out.str();
}

// The inspector's TLS settings as the coordinator library takes them.
coordinator::inspector_tls inspector_tls_of(const config::inspector_config& inspector) {
  const auto& t = inspector.tls;
  return {t.enabled, t.certificate, t.key, t.passphrase, t.cafile, t.capath};
}

// Waits for `who` to terminate until `deadline`; true when it did.
bool await_down(caf::actor_system& sys, const caf::actor& who,
                std::chrono::steady_clock::time_point deadline) {
  if (!who)
    return true;
  caf::scoped_actor self{sys};
  self->monitor(who);
  bool down = false;
  auto left = std::max(deadline - std::chrono::steady_clock::now(),
                       std::chrono::steady_clock::duration{0});
  self->receive([&](const caf::down_msg&) { down = true; },
                caf::after(std::chrono::duration_cast<caf::timespan>(left)) >> [] {});
  return down;
}

} // namespace

config::tasker_config naive_config(config::tasker_config cfg) {
  for (auto& [type, pool] : cfg.pools) {
    pool.min_executors = 1;
    pool.max_executors = 1;
    pool.batch_size = 1;
    pool.max_batch_size = 1;
  }
  cfg.coordinator.auto_scaling_enabled = false;
  return cfg;
}

node::node(config::tasker_config cfg, node_options options)
  : cfg_(options.naive ? naive_config(std::move(cfg)) : std::move(cfg)),
    options_(std::move(options)) {
  if (!options_.node_id.empty())
    cfg_.orchestration.node_id = options_.node_id;
  node_id_ = config::effective_node_id(cfg_.orchestration);
}

node::~node() {
  stop();
}

caf::actor_system& node::system() {
  if (!sys_)
    throw std::logic_error("node::system() called before start()");
  return *sys_;
}

void node::check_database() {
  if (cfg_.database.url.empty())
    throw node_error(2, "no database configured: set TASKER_DATABASE_URL, pass --database-url "
                        "or set database.url");
  std::unique_ptr<pqxx::connection> conn;
  try {
    conn = std::make_unique<pqxx::connection>(cfg_.database.url);
  } catch (const std::exception& e) {
    throw node_error(1, std::string{"cannot connect to the database: "} + e.what());
  }
  if (!resources::is_migrated(*conn)) {
    if (!options_.migrate)
      throw node_error(2, "the database schema is not current: run `tasker-node migrate` "
                          "(or start with --migrate)");
    for (const auto& name : resources::apply_migrations(*conn))
      spdlog::info("applied migration {}", name);
  }
  migrated_ = true;
  {
    pqxx::work tx{*conn};
    const auto& names = cfg_.queues.names;
    messaging::queue_client::create_queue(tx, names.task_requests);
    messaging::queue_client::create_queue(tx, names.step_results);
    for (const auto& ns : options_.worker_namespaces)
      messaging::queue_client::create_queue(tx, names.namespace_queue(ns));
    tx.commit();
  }
  detected_ = resources::detect(*conn, cfg_.database);
}

void node::check_budget() {
  auto check = resources::calculate_budget(cfg_, &detected_);
  for (const auto& w : check.warnings)
    spdlog::warn("resources: {}", w);
  if (!check.ok())
    throw node_error(2, "refusing to start: the executor pools do not fit the connection "
                        "budget:" + join_lines(check.errors));
  budget_ = *check.budget;
  budget_check_ = check;
  std::string server = "not measured";
  if (detected_.server)
    server = fmt::format("max_connections {}, {} in use, {} available",
                         detected_.server->max_connections, detected_.server->connections_in_use,
                         detected_.server->available());
  spdlog::info("resources: {} cores, {} MiB available, server: {}", detected_.cpu_cores,
               detected_.available_memory_mb.value_or(-1), server);
  spdlog::info("budget: pool {} - reserved {} = {} executor connections, pools ask for at "
               "most {}",
               budget_.pool_size, budget_.reserved_connections, budget_.total_executor_limit,
               budget_.requested_executors);
}

void node::start_actors() {
  sys_cfg_ = std::make_unique<caf::actor_system_config>();
  sys_cfg_->load<caf::io::middleman>();
  messaging::add_message_types(*sys_cfg_);
  // CAF's OpenSSL manager (after the middleman it builds on) carries the
  // inspector's TLS credentials for the whole actor system.
  if (cfg_.telemetry.inspector.enabled)
    coordinator::configure_inspector_tls(*sys_cfg_, inspector_tls_of(cfg_.telemetry.inspector));
  // Executors, workers, the broker and the listener run detached on their
  // own threads; the scheduler only runs the coordinator and the pools.
  auto threads = options_.scheduler_threads > 0 ? options_.scheduler_threads : std::size_t{2};
  sys_cfg_->set("scheduler.max-threads", threads);
  sys_ = std::make_unique<caf::actor_system>(*sys_cfg_);

  auto executor_budget = static_cast<std::size_t>(std::max(budget_.total_executor_limit, 1));
  auto broker = resources::spawn_broker(*sys_, {cfg_.database.url, executor_budget});
  if (!broker)
    throw node_error(1, "cannot open the executor connections: " + sys_->render(broker.error()));
  broker_ = *broker;

  auto listener = actors::spawn_notify_listener(*sys_, {cfg_.database.url});
  if (!listener)
    throw node_error(1, "cannot open the notification connection: "
                          + sys_->render(listener.error()));
  listener_ = *listener;

  auto options = make_coordinator_options(cfg_, node_id_, executor_budget, faults_);
  for (const auto& spec : options.pools)
    spdlog::info("pool {}: {}..{} executors{}", spec.options.name, spec.options.min,
                 spec.options.max, spec.queue.empty() ? "" : ", scaled on " + spec.queue);
  auto health_interval = options.health_interval;
  coordinator_ = sys_->spawn(coordinator::coordinator_actor, std::move(options), broker_,
                             listener_);

  queue_depth_poller_options poller_options;
  poller_options.database_url = cfg_.database.url;
  poller_options.interval = std::chrono::duration_cast<std::chrono::milliseconds>(health_interval);
  poller_options.coordinator = coordinator_;
  poller_options.archive_retention_days = cfg_.queues.archive_retention_days;
  auto poller = spawn_queue_depth_poller(*sys_, std::move(poller_options));
  if (!poller)
    throw node_error(1, "cannot open the queue-depth connection: " + sys_->render(poller.error()));
  poller_ = *poller;
}

void node::start_workers() {
  if (options_.worker_namespaces.empty())
    return;
  actors::builtin_options handler_options;
  handler_options.max_command_output_bytes = static_cast<std::size_t>(cfg_.queues.max_message_bytes);
  std::shared_ptr<const actors::handler_registry> registry =
    actors::make_builtin_registry(handler_options);
  for (const auto& ns : options_.worker_namespaces) {
    actors::worker_options wo;
    wo.database_url = cfg_.database.url;
    wo.namespace_name = ns;
    wo.concurrency = options_.worker_concurrency;
    wo.step_results_queue = cfg_.queues.names.step_results;
    wo.namespace_suffix = cfg_.queues.names.namespace_suffix;
    wo.poll_interval = std::chrono::milliseconds{cfg_.queues.poll_interval_ms};
    wo.max_message_bytes = static_cast<std::size_t>(cfg_.queues.max_message_bytes);
    workers_.push_back(actors::spawn_worker_group(*sys_, wo, registry));
    spdlog::info("worker group for namespace {}: {} workers", ns, wo.concurrency);
  }
}

void node::read_fault_injection() {
  try {
    faults_ = actors::fault_injection_from(std::getenv("TASKER_FAULT_BATCH_FAILURE_RATE"),
                                           std::getenv("TASKER_FAULT_SEED"));
  } catch (const std::invalid_argument& e) {
    throw node_error(2, e.what());
  }
  if (faults_.enabled())
    spdlog::warn("FAULT INJECTION ENABLED: TASKER_FAULT_BATCH_FAILURE_RATE={} (seed {}): about "
                 "{:.2f} % of the executor batches that do work crash their executor on "
                 "purpose. This is a test setting; never run production with it.",
                 faults_.batch_failure_rate, faults_.seed, faults_.batch_failure_rate * 100.0);
}

void node::start() {
  if (running_ || sys_)
    throw std::logic_error("node::start() called twice");
  read_fault_injection();
  check_database();
  check_budget();
  try {
    start_actors();
    start_workers();
    started_at_ = std::chrono::system_clock::now();
    start_telemetry();
    start_membership();
  } catch (...) {
    running_ = true; // lets stop() take down what did start
    stop();
    throw;
  }
  running_ = true;
  spdlog::info("node {} started{}", node_id_, options_.naive ? " (naive mode)" : "");
}

std::optional<messaging::coordinator_snapshot> node::status(std::chrono::milliseconds timeout) {
  if (!running_ || !coordinator_)
    return std::nullopt;
  std::optional<messaging::coordinator_snapshot> out;
  caf::scoped_actor self{*sys_};
  self->request(coordinator_, std::chrono::duration_cast<caf::timespan>(timeout),
                messaging::status_atom::value)
    .receive([&](const messaging::coordinator_snapshot& s) { out = s; },
             [](const caf::error&) {});
  return out;
}

std::optional<messaging::coordinator_snapshot> node::stop() {
  if (!running_)
    return std::nullopt;
  running_ = false;
  // The HTTP thread asks the coordinator for snapshots: it goes first.
  if (http_) {
    http_->stop();
    http_.reset();
  }
  auto drain = std::chrono::seconds{cfg_.orchestration.drain_timeout_seconds};
  auto deadline = std::chrono::steady_clock::now() + drain;
  spdlog::info("node {}: shutting down (drain timeout {} s)", node_id_, drain.count());
  // Workers first: a step in flight finishes and its result is queued while
  // the orchestration is still there to apply it on the next start.
  for (auto& w : workers_) {
    caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    if (!await_down(*sys_, w, deadline)) {
      spdlog::warn("node {}: a worker group did not drain in time; killing it", node_id_);
      caf::anon_send_exit(w, caf::exit_reason::kill);
    }
  }
  workers_.clear();
  std::optional<messaging::coordinator_snapshot> final_snapshot;
  bool drained_before = coordinator_ && !coordinator_alive_->load();
  if (drained_before) {
    // Drained through the inspector: the coordinator already drained its
    // pools and closes the broker; give the broker the rest of the deadline.
    spdlog::info("node {}: the coordinator already drained", node_id_);
    if (!await_down(*sys_, broker_, deadline))
      caf::anon_send_exit(broker_, caf::exit_reason::kill);
  } else if (coordinator_) {
    auto left = std::max(deadline - std::chrono::steady_clock::now(),
                         std::chrono::steady_clock::duration{std::chrono::seconds{1}});
    caf::scoped_actor self{*sys_};
    self->request(coordinator_, std::chrono::duration_cast<caf::timespan>(left),
                  messaging::shutdown_atom::value)
      .receive([&](const messaging::coordinator_snapshot& s) { final_snapshot = s; },
               [&](const caf::error& e) {
                 spdlog::warn("node {}: orderly shutdown failed ({}); killing the pools",
                              node_id_, sys_->render(e));
               });
  }
  if (!final_snapshot && !drained_before) {
    if (coordinator_)
      caf::anon_send_exit(coordinator_, caf::exit_reason::kill);
    if (broker_)
      caf::anon_send_exit(broker_, caf::exit_reason::kill);
  }
  // The member marks the node stopped once the coordinator is gone; the
  // stop request covers a coordinator that never started.
  for (auto* hdl : {&member_, &poller_, &listener_})
    if (*hdl)
      caf::anon_send(*hdl, messaging::stop_request{true});
  coordinator_ = nullptr;
  broker_ = nullptr;
  listener_ = nullptr;
  poller_ = nullptr;
  member_ = nullptr;
  // A detached executor blocked in a statement is bounded by the statement
  // timeout; the system's destructor waits for it.
  sys_.reset();
  sys_cfg_.reset();
  spdlog::info("node {}: stopped{}", node_id_,
               final_snapshot || drained_before ? "" : " (forced)");
  return final_snapshot;
}

} // namespace tasker::node
