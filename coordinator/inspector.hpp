#pragma once
/// The inspector: a node's operator port, published over CAF's middleman so
/// `taskerctl` can read the live actor tree and steer pools from outside.
///
/// Protocol (untyped actor; reach it with `connect_inspector`):
///   status_atom  → node_inspection   coordinator snapshot (pools, executors,
///                                    recent events) plus the broker asked
///                                    directly, with its leases
///   pool_scale   → pool_snapshot     forwarded to the coordinator
///   pool_pause   → pool_snapshot     forwarded to the coordinator
///   drain_atom   → coordinator_snapshot  starts the coordinator's orderly
///                                    shutdown and answers at once with the
///                                    snapshot taken as it began
/// Refusals arrive as `caf::error` of category "tasker" with a sentence.
///
/// Shutdown contract: the inspector monitors the coordinator and quits as
/// soon as the coordinator is gone (after a drain or otherwise), so a node
/// waiting in `await_all_actors_done()` is not held up by it and a client
/// monitoring the inspector sees the node finish.
///
/// Transport: plain TCP on the configured address (127.0.0.1 by default), or
/// mutual TLS through CAF's OpenSSL module (`inspector_transport::tls`). With
/// TLS both ends present a certificate and each verifies the other's against
/// its CA file or directory; the credentials belong to the actor system
/// (`configure_inspector_tls` before it is built), not to one connection.
/// A client only waits `connect_timeout` for the handshake: a plain client
/// at a TLS port (or the reverse) gets an error saying so instead of waiting
/// for ever, which is what CAF's own `remote_actor` does.

#include "messaging/messages.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace tasker::coordinator {

/// How the inspector talks to the actors it reads.
struct inspector_options {
  /// Bound on each query to the coordinator or the broker.
  caf::timespan timeout{std::chrono::seconds{5}};
};

/// How the inspector's connections are carried.
enum class inspector_transport {
  tcp, ///< plain TCP through the middleman
  tls, ///< mutual TLS through CAF's OpenSSL module
};

/// The TLS credentials of one end (node or client) of inspector connections.
struct inspector_tls {
  bool enabled = false;    ///< use TLS at all
  std::string certificate; ///< PEM certificate (chain) this end presents
  std::string key;         ///< PEM private key of `certificate`
  std::string passphrase;  ///< opens an encrypted `key`; empty when it is not
  std::string cafile;      ///< PEM file of the CAs that sign the peer's certificate
  std::string capath;      ///< directory of hashed CA certificates (`openssl rehash`)
};

/// Loads CAF's OpenSSL manager into `cfg` and hands it `tls`'s files; does
/// nothing unless `tls.enabled`. The middleman must already be loaded, and
/// this must run before an actor system is built from `cfg`.
void configure_inspector_tls(caf::actor_system_config& cfg, const inspector_tls& tls);

/// Loads `tls`'s certificate, key (with the passphrase) and CAs the way CAF
/// will for each connection, and checks that key and certificate belong
/// together. CAF loads them only once a connection arrives and cannot report
/// a failure then, so publishing and connecting call this first; the error's
/// sentence names the file at fault.
caf::error check_inspector_tls(const inspector_tls& tls);

/// The inspector's state; see the file comment for the protocol.
struct inspector_state {
  /// The node's coordinator: every query and command goes to it.
  caf::actor coordinator;
  /// The node's connection broker; may be null.
  caf::actor broker;
  /// Query timeouts.
  inspector_options options;

  /// Name under which CAF reports this actor.
  static inline const char* name = "tasker.inspector";
};

/// The inspector's behavior over `coordinator` and (optional) `broker`.
caf::behavior inspector(caf::stateful_actor<inspector_state>* self, caf::actor coordinator,
                        caf::actor broker, inspector_options options);

/// Spawns an inspector over `coordinator` and `broker` and publishes it on
/// `bind_address`:`port` (0 picks a free port) over `transport`; returns the
/// bound port. TLS needs `sys` built from a configuration that went through
/// `configure_inspector_tls`. The inspector quits when the coordinator does
/// (see the shutdown contract).
caf::expected<std::uint16_t> publish_inspector(caf::actor_system& sys, caf::actor coordinator,
                                               caf::actor broker,
                                               const std::string& bind_address,
                                               std::uint16_t port,
                                               inspector_options options = {},
                                               inspector_transport transport =
                                                 inspector_transport::tcp);

/// Connects to the inspector published at `host`:`port` over `transport`,
/// waiting at most `connect_timeout` for the handshake. Failures carry a
/// sentence (see `inspector_error_text`) that says what to check; a
/// handshake that broke off (`sec::disconnect_during_handshake`) or never
/// came (`sec::request_timeout`) usually means the two ends disagree on TLS.
caf::expected<caf::actor> connect_inspector(caf::actor_system& sys, const std::string& host,
                                            std::uint16_t port,
                                            inspector_transport transport =
                                              inspector_transport::tcp,
                                            caf::timespan connect_timeout =
                                              std::chrono::seconds{5});

/// The sentence an error from `check_inspector_tls`, `publish_inspector` or
/// `connect_inspector` carries; empty when it carries none.
std::string inspector_error_text(const caf::error& err);

} // namespace tasker::coordinator
