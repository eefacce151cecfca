#pragma once
/// The `taskerctl` commands that talk to a running node's inspector over
/// CAF's middleman (`inspect`, `pool`, `node drain`) and the cluster listing
/// read from the `nodes` table (`cluster`). Each takes its parsed arguments and
/// two streams and returns the exit code (0 ok, 1 runtime error or refusal,
/// 2 invalid usage), so tests call them directly.

#include "coordinator/inspector.hpp"
#include "messaging/messages.hpp"

#include <CLI/CLI.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace tasker::tools::ctl {

/// Where a node's inspector listens and how to reach it.
struct node_endpoint {
  std::string host = "127.0.0.1"; ///< the inspector's address
  std::uint16_t port = 0;         ///< the inspector's port
  /// This end's TLS credentials; plain TCP unless `tls.enabled`.
  coordinator::inspector_tls tls;
  /// Bound on the connection handshake.
  caf::timespan connect_timeout{std::chrono::seconds{5}};
};

/// Parses "HOST:PORT"; throws usage_error naming the text otherwise.
node_endpoint parse_node_endpoint(const std::string& text);

/// The live tree as one JSON document (ages in seconds).
nlohmann::json inspection_json(const messaging::node_inspection& tree);

/// Prints the live tree for people: coordinator, broker with its leases, each
/// pool with its executors, then the recent scaling events.
void print_inspection(const messaging::node_inspection& tree, std::ostream& out);

/// `inspect`: prints the tree once, or every `watch_seconds` when that is
/// positive: until the node goes away, or `count` times when `count` > 0.
int inspect_cmd(const node_endpoint& node, bool json, double watch_seconds, std::ostream& out,
                std::ostream& err, int count = 0);

/// `pool scale POOL SIZE|auto`: a size within [min, max] makes the pool
/// manual (auto-scaling off for it); "auto" gives it back to auto-scaling.
int pool_scale_cmd(const node_endpoint& node, const std::string& pool, const std::string& size,
                   bool json, std::ostream& out, std::ostream& err);

/// `pool pause|resume POOL`: stops or restarts the pool's batch loops.
int pool_pause_cmd(const node_endpoint& node, const std::string& pool, bool paused, bool json,
                   std::ostream& out, std::ostream& err);

/// `node drain`: starts the node's orderly shutdown; unless `timeout_seconds`
/// is 0, waits that long for the node to finish (the inspector going down).
int node_drain_cmd(const node_endpoint& node, double timeout_seconds, bool json,
                   std::ostream& out, std::ostream& err);

/// `cluster`: the nodes of the cluster (only live ones unless `all`).
int cluster_cmd(const std::string& database_url, bool all, bool json, std::ostream& out,
                std::ostream& err);

namespace detail {

/// What a command does with the connected inspector; returns the exit code.
using inspector_call = std::function<int(caf::scoped_actor& self, const caf::actor& inspector)>;

/// Starts a client actor system (middleman, the OpenSSL manager when
/// `node.tls` is enabled, the runtime's message types), connects to `node`
/// and runs `call`; a failed connection is exit code 1 with a hint.
int with_inspector(const node_endpoint& node, std::ostream& err, const inspector_call& call);

/// "code: sentence" for an error from the node (the sentence when it carries one).
std::string describe(caf::actor_system& sys, const caf::error& err);

} // namespace detail

/// Registers `inspect`, `pool`, `node` and `cluster` on `app`.
void add_inspection_commands(CLI::App& app, std::function<int()>& run);

} // namespace tasker::tools::ctl
