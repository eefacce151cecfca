#include "config/cli_options.hpp"
#include "coordinator/inspector.hpp"
#include "tools/taskerctl/inspect_commands.hpp"
#include "tools/taskerctl/support.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <charconv>
#include <iomanip>
#include <iostream>
#include <memory>
#include <ostream>
#include <sstream>
#include <thread>

namespace tasker::tools::ctl {

using namespace tasker::messaging;

namespace {

struct client_config : caf::actor_system_config {
  explicit client_config(const coordinator::inspector_tls& tls) {
    load<caf::io::middleman>();
    tasker::messaging::add_message_types(*this);
    coordinator::configure_inspector_tls(*this, tls);
  }
};

double seconds(caf::timespan d) {
  return std::chrono::duration_cast<std::chrono::duration<double>>(d).count();
}

std::string fixed(double x, int digits = 2) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << x;
  return s.str();
}

std::string age(caf::timespan d) { return fixed(seconds(d), 1) + "s"; }

} // namespace

node_endpoint parse_node_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw usage_error("--node '" + text + "': expected HOST:PORT, e.g. 127.0.0.1:4242");
  node_endpoint out;
  out.host = text.substr(0, colon);
  int port = 0;
  auto digits = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc{} || end != digits.data() + digits.size() || port < 1 || port > 65535)
    throw usage_error("--node '" + text + "': the port must be a number in 1..65535");
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

namespace detail {

std::string describe(caf::actor_system& sys, const caf::error& err) {
  const auto& ctx = err.context();
  if (err.category() == caf::atom("tasker") && ctx.match_elements<std::string>())
    return to_string(static_cast<errc>(err.code())) + ": " + ctx.get_as<std::string>(0);
  return sys.render(err);
}

int with_inspector(const node_endpoint& node, std::ostream& err, const inspector_call& call) {
  if (node.tls.enabled) {
    // Checked before the actor system exists: CAF would only find a bad file
    // once connected, and fail without saying which.
    if (auto bad = coordinator::check_inspector_tls(node.tls)) {
      err << "error: cannot use TLS for the inspector at " << node.host << ':' << node.port
          << ": " << coordinator::inspector_error_text(bad)
          << " (--certificate, --key, --cafile or telemetry.inspector.tls)\n";
      return exit_runtime_error;
    }
  }
  client_config cfg{node.tls};
  caf::actor_system sys{cfg};
  auto transport = node.tls.enabled ? coordinator::inspector_transport::tls
                                    : coordinator::inspector_transport::tcp;
  auto hdl = coordinator::connect_inspector(sys, node.host, node.port, transport,
                                            node.connect_timeout);
  if (!hdl) {
    auto why = coordinator::inspector_error_text(hdl.error());
    err << "error: no inspector at " << node.host << ':' << node.port << " ("
        << (why.empty() ? sys.render(hdl.error()) : why) << "); ";
    // A handshake that broke off or never came: the ends disagree on TLS
    // (or, with TLS, on whom to trust).
    bool handshake = hdl.error() == caf::sec::request_timeout
                     || hdl.error() == caf::sec::disconnect_during_handshake;
    if (node.tls.enabled)
      err << "is the node running with telemetry.inspector.enabled = true? Drop --tls if it "
             "serves the inspector without TLS; otherwise check --cafile, --certificate and "
             "--key against its telemetry.inspector.tls\n";
    else if (handshake)
      err << "pass --tls (with --cafile, --certificate and --key) if the node serves the "
             "inspector over TLS\n";
    else
      err << "is the node running with telemetry.inspector.enabled = true?\n";
    return exit_runtime_error;
  }
  caf::scoped_actor self{sys};
  return call(self, *hdl);
}

} // namespace detail

nlohmann::json inspection_json(const node_inspection& tree) {
  using nlohmann::json;
  const auto& s = tree.snapshot;
  auto broker = tree.broker_answered ? tree.broker_now : s.broker;
  json leases = json::array();
  for (auto& l : broker.leases)
    leases.push_back({{"id", l.id}, {"holder", l.holder}, {"holder_name", l.holder_name},
                      {"held_for_seconds", seconds(l.held_for)}});
  json pools = json::array();
  for (auto& p : s.pools) {
    json executors = json::array();
    for (auto& e : s.executors)
      if (e.pool == p.name)
        executors.push_back({{"id", e.id}, {"type", e.pool}, {"state", to_string(e.state)},
                             {"heartbeat_age_seconds", seconds(e.since_heartbeat)},
                             {"items", e.items}, {"errors", e.errors}, {"batches", e.batches},
                             {"utilization", e.utilization}, {"breaker", to_string(e.breaker)},
                             {"backpressure", e.backpressure}, {"paused", e.paused},
                             {"mailbox", e.mailbox}});
    pools.push_back({{"name", p.name}, {"executors", std::move(executors)}, {"min", p.min},
                     {"max", p.max}, {"target", p.target}, {"manual", p.manual},
                     {"paused", p.paused}, {"failed", p.failed}, {"utilization", p.utilization},
                     {"queue_depth", p.queue_depth}, {"items", p.items}, {"errors", p.errors}});
  }
  json events = json::array();
  for (auto& e : s.events)
    events.push_back({{"at_seconds", seconds(e.at)}, {"kind", e.kind}, {"pool", e.pool},
                      {"detail", e.detail}});
  return {{"inspector", tree.inspector},
          {"coordinator",
           {{"id", tree.coordinator}, {"type", "tasker.coordinator"},
            {"backpressure", s.backpressure}, {"utilization", s.utilization},
            {"items", s.items}, {"errors", s.errors}, {"shutting_down", s.shutting_down},
            {"uptime_seconds", seconds(s.uptime)}}},
          {"broker",
           {{"id", tree.broker}, {"type", "tasker.broker"}, {"live", tree.broker_answered},
            {"size", broker.size}, {"leased", broker.leased},
            {"peak_leased", broker.peak_leased}, {"waiting", broker.waiting},
            {"saturation", broker.saturation}, {"leases", std::move(leases)}}},
          {"pools", std::move(pools)},
          {"events", std::move(events)}};
}

void print_inspection(const node_inspection& tree, std::ostream& out) {
  const auto& s = tree.snapshot;
  out << "coordinator #" << tree.coordinator << "  uptime " << age(s.uptime) << "  backpressure "
      << fixed(s.backpressure) << "  utilization " << fixed(s.utilization) << "  items "
      << s.items << "  errors " << s.errors << (s.shutting_down ? "  [draining]" : "") << '\n';
  auto broker = tree.broker_answered ? tree.broker_now : s.broker;
  out << "broker #" << tree.broker << "  " << broker.leased << '/' << broker.size
      << " leased (peak " << broker.peak_leased << ")  " << broker.waiting
      << " waiting  saturation " << fixed(broker.saturation)
      << (tree.broker_answered ? "" : "  (as of the last health tick: no answer now)") << '\n';
  for (auto& l : broker.leases)
    out << "  lease " << l.id << "  holder #" << l.holder << ' ' << l.holder_name << "  held "
        << age(l.held_for) << '\n';
  for (auto& p : s.pools) {
    out << "pool " << p.name << "  executors " << p.executors << " in [" << p.min << ", "
        << p.max << "] target " << p.target << "  utilization " << fixed(p.utilization)
        << "  queue " << p.queue_depth << "  items " << p.items << "  errors " << p.errors
        << (p.manual ? "  [manual]" : "") << (p.paused ? "  [paused]" : "")
        << (p.failed ? "  [failed]" : "") << '\n';
    text_table t{{"  executor", "state", "heartbeat", "items", "util", "breaker", "backpressure",
                  "mailbox"}};
    for (auto& e : s.executors)
      if (e.pool == p.name)
        t.add({"  #" + std::to_string(e.id), to_string(e.state) + (e.paused ? " (paused)" : ""),
               age(e.since_heartbeat) + " ago", std::to_string(e.items), fixed(e.utilization),
               to_string(e.breaker), fixed(e.backpressure), std::to_string(e.mailbox)});
    if (t.size() > 0)
      t.print(out);
  }
  out << "recent events:" << (s.events.empty() ? " none" : "") << '\n';
  for (auto& e : s.events)
    out << "  +" << age(e.at) << "  " << e.kind << (e.pool.empty() ? "" : "  " + e.pool) << "  "
        << e.detail << '\n';
}

int inspect_cmd(const node_endpoint& node, bool json, double watch_seconds, std::ostream& out,
                std::ostream& err, int count) {
  return detail::with_inspector(node, err, [&](caf::scoped_actor& self, const caf::actor& insp) {
    for (int printed = 1;; ++printed) {
      int code = exit_ok;
      self->request(insp, std::chrono::seconds{10}, status_atom::value)
        .receive(
          [&](node_inspection& tree) {
            if (json)
              out << inspection_json(tree).dump(2) << '\n';
            else
              print_inspection(tree, out);
          },
          [&](caf::error& e) {
            err << "error: " << detail::describe(self->system(), e) << '\n';
            code = exit_runtime_error;
          });
      if (code != exit_ok || watch_seconds <= 0 || (count > 0 && printed >= count))
        return code;
      out << std::flush;
      std::this_thread::sleep_for(std::chrono::duration<double>{watch_seconds});
      if (!json)
        out << '\n';
    }
  });
}

} // namespace tasker::tools::ctl

// -- command line -------------------------------------------------------------

namespace tasker::tools::ctl {

namespace {

/// --node, the TLS flags and the configuration flags that supply their defaults.
struct node_flags {
  std::shared_ptr<config::cli_config_options> config;
  std::shared_ptr<std::string> node = std::make_shared<std::string>();
  std::shared_ptr<bool> json = std::make_shared<bool>(false);
  std::shared_ptr<bool> tls = std::make_shared<bool>(false);
  std::shared_ptr<std::string> cafile = std::make_shared<std::string>();
  std::shared_ptr<std::string> certificate = std::make_shared<std::string>();
  std::shared_ptr<std::string> key = std::make_shared<std::string>();
};

node_flags add_node_flags(CLI::App& cmd) {
  node_flags f{config::add_config_options(cmd, false)};
  cmd.add_option("--node", *f.node,
                 "HOST:PORT of the node's inspector (default: 127.0.0.1 and the configured "
                 "telemetry.inspector.port)");
  cmd.add_flag("--json", *f.json, "print JSON for scripts instead of text for people");
  cmd.add_flag("--tls", *f.tls,
               "connect over mutual TLS (default: telemetry.inspector.tls.enabled when the "
               "configuration is read)");
  cmd.add_option("--cafile", *f.cafile,
                 "PEM file of the CAs that sign the node's certificate (default: "
                 "telemetry.inspector.tls.cafile)");
  cmd.add_option("--certificate", *f.certificate,
                 "PEM certificate this client presents (default: "
                 "telemetry.inspector.tls.certificate)");
  cmd.add_option("--key", *f.key,
                 "PEM private key of --certificate (default: telemetry.inspector.tls.key)");
  return f;
}

// The explicit --node, else loopback on the configured inspector port. The
// configuration is read without --node, and with --node when --tls lacks a
// file flag; then TLS and each file default to telemetry.inspector.tls.
node_endpoint resolve(const node_flags& f) {
  bool tls_incomplete = *f.tls && (f.cafile->empty() || f.certificate->empty() || f.key->empty());
  node_endpoint out;
  if (!f.node->empty())
    out = parse_node_endpoint(*f.node);
  if (f.node->empty() || tls_incomplete) {
    auto loaded = config::load_from_cli(*f.config, std::cerr);
    const auto& insp = loaded.config.telemetry.inspector;
    if (f.node->empty()) {
      if (insp.port <= 0)
        throw usage_error("telemetry.inspector.port is " + std::to_string(insp.port)
                          + " (picked at start-up): pass --node HOST:PORT");
      out.port = static_cast<std::uint16_t>(insp.port);
    }
    out.tls.enabled = insp.tls.enabled;
    out.tls.cafile = insp.tls.cafile;
    out.tls.capath = insp.tls.capath;
    out.tls.certificate = insp.tls.certificate;
    out.tls.key = insp.tls.key;
    out.tls.passphrase = insp.tls.passphrase;
  }
  out.tls.enabled = out.tls.enabled || *f.tls;
  if (!f.cafile->empty()) {
    out.tls.cafile = *f.cafile;
    out.tls.capath.clear();
  }
  if (!f.certificate->empty())
    out.tls.certificate = *f.certificate;
  if (!f.key->empty()) {
    out.tls.key = *f.key;
    out.tls.passphrase.clear();
  }
  if (out.tls.enabled && out.tls.certificate.empty())
    throw usage_error("TLS needs a client certificate: pass --certificate and --key (or set "
                      "telemetry.inspector.tls.certificate and .key)");
  if (out.tls.enabled && out.tls.key.empty())
    throw usage_error("TLS needs the client certificate's private key: pass --key");
  if (out.tls.enabled && out.tls.cafile.empty() && out.tls.capath.empty())
    throw usage_error("TLS needs the CA that signs the node's certificate: pass --cafile");
  return out;
}

void on_node_command(CLI::App* cmd, std::function<int()>& run, node_flags f,
                     std::function<int(const node_endpoint&, bool)> body) {
  cmd->callback([&run, f, body] {
    run = [f, body] {
      node_endpoint node;
      int rc = run_guarded(std::cerr, [&] {
        node = resolve(f);
        return exit_ok;
      });
      return rc != exit_ok ? rc : body(node, *f.json);
    };
  });
}

} // namespace

void add_inspection_commands(CLI::App& app, std::function<int()>& run) {
  auto* insp = app.add_subcommand("inspect", "print a running node's live actor tree");
  auto watch = std::make_shared<double>(0);
  auto count = std::make_shared<int>(0);
  auto insp_flags = add_node_flags(*insp);
  auto* watch_opt =
    insp->add_option("--watch", *watch, "print again every SECONDS until interrupted");
  insp->add_option("--count", *count, "with --watch: stop after printing N times")
    ->check(CLI::PositiveNumber)
    ->needs(watch_opt);
  on_node_command(insp, run, insp_flags, [watch, count](const node_endpoint& node, bool json) {
    return inspect_cmd(node, json, *watch, std::cout, std::cerr, *count);
  });

  auto* pool = app.add_subcommand("pool", "resize, pause or resume a running node's pool");
  pool->require_subcommand(1);
  auto* scale = pool->add_subcommand(
    "scale", "set a pool's size within [min, max] (auto-scaling off) or give it back: 'auto'");
  auto name = std::make_shared<std::string>();
  auto size = std::make_shared<std::string>();
  auto scale_flags = add_node_flags(*scale);
  scale->add_option("pool", *name, "the pool (executor type)")->required();
  scale->add_option("size", *size, "number of executors, or 'auto'")->required();
  on_node_command(scale, run, scale_flags, [name, size](const node_endpoint& node, bool json) {
    return pool_scale_cmd(node, *name, *size, json, std::cout, std::cerr);
  });
  for (bool paused : {true, false}) {
    auto* cmd = pool->add_subcommand(paused ? "pause" : "resume",
                                     paused ? "stop a pool's executors taking batches"
                                            : "let a paused pool's executors take batches");
    auto target = std::make_shared<std::string>();
    auto flags = add_node_flags(*cmd);
    cmd->add_option("pool", *target, "the pool (executor type)")->required();
    on_node_command(cmd, run, flags, [target, paused](const node_endpoint& node, bool json) {
      return pool_pause_cmd(node, *target, paused, json, std::cout, std::cerr);
    });
  }

  auto* node = app.add_subcommand("node", "act on a running node");
  node->require_subcommand(1);
  auto* drain = node->add_subcommand("drain", "shut the node down gracefully");
  auto timeout = std::make_shared<double>(60);
  auto drain_flags = add_node_flags(*drain);
  drain->add_option("--timeout", *timeout, "seconds to wait for the node to finish; 0: no wait");
  on_node_command(drain, run, drain_flags, [timeout](const node_endpoint& n, bool json) {
    return node_drain_cmd(n, *timeout, json, std::cout, std::cerr);
  });

  auto* cluster = app.add_subcommand("cluster", "list the nodes of the cluster");
  auto config = config::add_config_options(*cluster);
  auto json = std::make_shared<bool>(false);
  auto all = std::make_shared<bool>(false);
  cluster->add_flag("--json", *json, "print JSON for scripts instead of text for people");
  cluster->add_flag("--all", *all, "also list stopped and dead nodes");
  cluster->callback([&run, config, json, all] {
    run = [config, json, all] {
      std::string url;
      int rc = run_guarded(std::cerr, [&] {
        url = config::load_from_cli(*config, std::cerr).config.database.url;
        return exit_ok;
      });
      return rc != exit_ok ? rc : cluster_cmd(url, *all, *json, std::cout, std::cerr);
    };
  });
}

} // namespace tasker::tools::ctl
