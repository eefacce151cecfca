// `tasker-node worker`: runs a worker group for one namespace until SIGINT or
// SIGTERM, then drains (every step in flight finishes and posts its result).
#include "actors/handlers/handler_registry.hpp"
#include "actors/worker.hpp"
#include "config/cli_options.hpp"
#include "messaging/messages.hpp"
#include "resources/migrate.hpp"
#include "tools/tasker-node/commands.hpp"

#include <caf/all.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <string>

namespace tasker::tools {

namespace {

volatile std::sig_atomic_t stop_signal = 0;

extern "C" void on_stop_signal(int sig) {
  stop_signal = sig;
}

struct worker_flags {
  std::string namespace_name;
  std::size_t concurrency = 4;
  std::size_t batch_size = actors::worker_options{}.batch_size;
  int visibility_timeout = 0;
  std::vector<std::string> allowed_http_hosts;
};

int run_worker(const worker_flags& flags, const config::cli_config_options& cfg_flags) {
  auto loaded = config::load_from_cli(cfg_flags, std::cerr);
  const auto& cfg = loaded.config;
  actors::worker_options opts;
  opts.database_url = cfg.database.url;
  opts.namespace_name = flags.namespace_name;
  opts.concurrency = flags.concurrency;
  opts.batch_size = flags.batch_size;
  opts.visibility_timeout_seconds = flags.visibility_timeout;
  opts.step_results_queue = cfg.queues.names.step_results;
  opts.namespace_suffix = cfg.queues.names.namespace_suffix;
  opts.poll_interval = std::chrono::milliseconds{cfg.queues.poll_interval_ms};
  opts.max_message_bytes = static_cast<std::size_t>(cfg.queues.max_message_bytes);
  if (opts.database_url.empty()) {
    std::cerr << "tasker-node worker: no database: pass --database-url or set "
                 "TASKER_DATABASE_URL\n";
    return 2;
  }
  try {
    pqxx::connection conn{opts.database_url};
    if (!resources::is_migrated(conn)) {
      std::cerr << "tasker-node worker: the database schema is not current: run `tasker-node "
                   "migrate`\n";
      return 2;
    }
  } catch (const pqxx::broken_connection& e) {
    // Not reachable yet: the worker actors connect (and check) on their own.
    spdlog::warn("worker: cannot reach the database yet ({}); retrying", e.what());
  }
  auto handlers = actors::make_builtin_registry(
    {flags.allowed_http_hosts, static_cast<std::size_t>(cfg.queues.max_message_bytes)});

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  caf::actor_system_config sys_cfg;
  caf::actor_system sys{sys_cfg};
  auto group = actors::spawn_worker_group(sys, opts, handlers);
  spdlog::info("worker: namespace {} with {} worker(s), allocator {}; SIGINT or SIGTERM drains "
               "and exits",
               opts.namespace_name, opts.concurrency, allocator_description());
  bool clean = true;
  {
    caf::scoped_actor self{sys};
    self->monitor(group);
    bool down = false;
    bool stopping = false;
    while (!down) {
      if (stop_signal != 0 && !stopping) {
        stopping = true;
        spdlog::info("worker: signal {} received; finishing the steps in flight", stop_signal);
        self->send(group, messaging::stop_request{true});
      }
      self->receive(
        [&](caf::down_msg& msg) {
          down = true;
          if (msg.reason && !stopping) {
            clean = false;
            spdlog::error("worker: group ended: {}", caf::to_string(msg.reason));
          }
        },
        caf::after(std::chrono::milliseconds{200}) >> [] {});
    }
  }
  spdlog::info("worker: stopped");
  return clean ? 0 : 1;
}

} // namespace

void add_worker_command(CLI::App& app, command_fn& run) {
  auto* cmd = app.add_subcommand("worker", "run step handlers for one namespace queue");
  auto flags = std::make_shared<worker_flags>();
  auto cfg_flags = config::add_config_options(*cmd);
  cmd->add_option("--namespace", flags->namespace_name, "namespace whose queue to consume")
    ->required();
  cmd->add_option("--concurrency", flags->concurrency, "worker actors (default 4)")
    ->check(CLI::Range(1, 256));
  cmd->add_option("--batch-size", flags->batch_size,
                  "most messages a worker actor claims at once (default "
                    + std::to_string(flags->batch_size) + "); fewer while its handlers are slow")
    ->check(CLI::Range(1, 1000));
  cmd->add_option("--visibility-timeout", flags->visibility_timeout,
                  "seconds a message the claim keeps stays hidden (0: each step's timeout + margin)")
    ->check(CLI::Range(0, 86400));
  cmd->add_option("--allow-http-host", flags->allowed_http_hosts,
                  "host the http handler may call besides loopback (repeatable)");
  cmd->callback([&run, flags, cfg_flags] {
    run = [flags, cfg_flags] { return run_worker(*flags, *cfg_flags); };
  });
}

} // namespace tasker::tools
