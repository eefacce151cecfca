#include "config/cli_options.hpp"
#include "config/redact.hpp"
#include "node/node.hpp"
#include "tools/tasker-node/commands.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <pthread.h>
#include <string>
#include <thread>
#include <vector>

namespace tasker::tools {

namespace {

struct run_flags {
  std::string node_id;
  bool naive = false;
  bool migrate = false;
  std::vector<std::string> worker_namespaces;
  std::size_t worker_concurrency = 4;
  std::string http_bind;   // empty: telemetry.http.bind_address
  int http_port = -1;      // negative: telemetry.http.port
  int inspector_port = -1; // negative: telemetry.inspector (as configured)
  std::string log_format;  // empty: telemetry.logging.format
};

// `%*` in a log pattern: the message, escaped for a JSON string.
class json_message_flag : public spdlog::custom_flag_formatter {
public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    for (char c : msg.payload) {
      switch (c) {
      case '"': dest.append(std::string_view{"\\\""}); break;
      case '\\': dest.append(std::string_view{"\\\\"}); break;
      case '\n': dest.append(std::string_view{"\\n"}); break;
      case '\r': dest.append(std::string_view{"\\r"}); break;
      case '\t': dest.append(std::string_view{"\\t"}); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          dest.append(std::string_view{buf});
        } else {
          dest.push_back(c);
        }
      }
    }
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<json_message_flag>();
  }
};

// text: spdlog's default lines; json: one object per line,
// {"ts":...,"level":...,"logger":...,"msg":...}.
void apply_log_format(const std::string& format) {
  if (format != "json")
    return;
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<json_message_flag>('*').set_pattern(
    R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","logger":"%n","msg":"%*"})");
  spdlog::set_formatter(std::move(formatter));
}

// Command-line overrides of the telemetry section.
void apply_overrides(config::tasker_config& cfg, const run_flags& rf) {
  if (!rf.http_bind.empty())
    cfg.telemetry.http.bind_address = rf.http_bind;
  if (rf.http_port >= 0)
    cfg.telemetry.http.port = rf.http_port;
  if (rf.inspector_port >= 0) {
    cfg.telemetry.inspector.enabled = true;
    cfg.telemetry.inspector.port = rf.inspector_port;
  }
  if (!rf.log_format.empty())
    cfg.telemetry.logging.format = rf.log_format;
}

// SIGINT and SIGTERM are blocked in every thread (the mask is set before the
// actor system starts its threads and is inherited), then taken with sigwait:
// no handler runs in an arbitrary thread, and the shutdown runs on main.
sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

int wait_for_signal(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

// Waits for a signal while the node runs; 0 when the node ended by itself
// (drained through the inspector).
int wait_for_signal_or_end(const sigset_t& set, const node::node& n) {
  const timespec second{1, 0};
  while (n.running()) {
    int sig = sigtimedwait(&set, nullptr, &second);
    if (sig > 0)
      return sig;
    if (sig < 0 && errno != EAGAIN && errno != EINTR)
      return wait_for_signal(set);
  }
  return 0;
}

int run_node(const config::cli_config_options& flags, const run_flags& rf) {
  auto set = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  config::loaded_config loaded;
  auto load_start = std::chrono::steady_clock::now();
  try {
    loaded = config::load_from_cli(flags, std::cerr);
  } catch (const config::config_error& e) {
    std::cerr << "tasker-node run: invalid configuration:\n" << e.what() << '\n';
    return 2;
  }
  std::chrono::duration<double> load_time = std::chrono::steady_clock::now() - load_start;
  apply_overrides(loaded.config, rf);
  apply_log_format(loaded.config.telemetry.logging.format);
  auto level = spdlog::level::from_str(loaded.config.telemetry.logging.level);
  spdlog::set_level(level);
  spdlog::info("configuration: environment {}, root {}, database {}", loaded.environment,
               loaded.config_dir.string(), config::redact_url(loaded.config.database.url));
  spdlog::info("allocator: {}", allocator_description());
  node::node_options opts;
  opts.node_id = rf.node_id;
  opts.naive = rf.naive;
  opts.migrate = rf.migrate;
  opts.worker_namespaces = rf.worker_namespaces;
  opts.worker_concurrency = rf.worker_concurrency;
  opts.config_load_time = load_time;
  node::node n{std::move(loaded.config), opts};
  try {
    n.start();
  } catch (const node::node_error& e) {
    std::cerr << "tasker-node run: " << e.what() << '\n';
    return e.exit_code();
  }
  // Readiness line for supervisors and scripts, independent of the log level.
  const auto& tel = n.config().telemetry;
  if (n.http_port() != 0)
    std::cout << "tasker-node: http on " << tel.http.bind_address << ':' << n.http_port()
              << std::endl;
  if (n.inspector_port() != 0)
    std::cout << "tasker-node: inspector on " << tel.inspector.bind_address << ':'
              << n.inspector_port() << std::endl;
  std::cout << "tasker-node: node " << n.node_id() << " running" << std::endl;
  auto sig = wait_for_signal_or_end(set, n);
  if (sig == 0) {
    spdlog::info("the coordinator drained; shutting down");
    n.stop();
    std::cout << "tasker-node: node " << n.node_id() << " stopped (drained)" << std::endl;
    return 0;
  }
  spdlog::warn("received {}: draining (a second signal exits at once)",
               sig == SIGINT ? "SIGINT" : "SIGTERM");
  std::thread impatient{[set] {
    wait_for_signal(set);
    std::cerr << "tasker-node: second signal, exiting without draining\n";
    std::_Exit(130);
  }};
  impatient.detach();
  auto final_snapshot = n.stop();
  std::cout << "tasker-node: node " << n.node_id() << " stopped"
            << (final_snapshot ? "" : " (drain timed out)") << std::endl;
  return final_snapshot ? 0 : 1;
}

} // namespace

void add_run_command(CLI::App& app, command_fn& run) {
  auto* cmd = app.add_subcommand("run", "run the orchestration node until SIGINT, SIGTERM or a drain");
  auto flags = config::add_config_options(*cmd);
  auto rf = std::make_shared<run_flags>();
  cmd->add_option("--node-id", rf->node_id,
                  "this node's id in claims and logs (default: orchestration.node_id, else "
                  "<hostname>-<pid>)");
  cmd->add_flag("--naive", rf->naive,
                "one executor per type, batch size 1, no scaling (benchmark baseline)");
  cmd->add_flag("--migrate", rf->migrate, "apply pending schema migrations before starting");
  cmd->add_option("--with-worker", rf->worker_namespaces,
                  "also run a step worker group for this namespace (repeatable)");
  cmd->add_option("--worker-concurrency", rf->worker_concurrency,
                  "worker actors per embedded worker group")
    ->check(CLI::PositiveNumber);
  cmd->add_option("--http-bind", rf->http_bind,
                  "address of the HTTP endpoint (overrides telemetry.http.bind_address)");
  cmd->add_option("--http-port", rf->http_port,
                  "port of the HTTP endpoint; 0 picks a free one (overrides telemetry.http.port)")
    ->check(CLI::Range(0, 65535));
  cmd->add_option("--inspector-port", rf->inspector_port,
                  "publish the inspector on this port; 0 picks a free one (overrides "
                  "telemetry.inspector)")
    ->check(CLI::Range(0, 65535));
  cmd->add_option("--log-format", rf->log_format,
                  "text, or json: one JSON object per line (overrides telemetry.logging.format)")
    ->check(CLI::IsMember({"text", "json"}));
  cmd->callback([&run, flags, rf] { run = [flags, rf] { return run_node(*flags, *rf); }; });
}

} // namespace tasker::tools
