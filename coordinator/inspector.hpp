#pragma once
/// The inspector: a node's operator port, published over CAF's middleman so
/// `taskerctl` can read the live actor tree and steer pools from outside.
///
/// Protocol (untyped actor; connect with the untyped `remote_actor`):
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
/// Transport: plain TCP on the configured address (127.0.0.1 by default).
/// CAF 0.17's OpenSSL module could carry it instead; see docs/inspection.md
/// for why it is not wired here.

#include "messaging/messages.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
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
/// `bind_address`:`port` (0 picks a free port); returns the bound port. The
/// inspector quits when the coordinator does (see the shutdown contract).
caf::expected<std::uint16_t> publish_inspector(caf::actor_system& sys, caf::actor coordinator,
                                               caf::actor broker,
                                               const std::string& bind_address,
                                               std::uint16_t port,
                                               inspector_options options = {});

/// Connects to the inspector published at `host`:`port`.
caf::expected<caf::actor> connect_inspector(caf::actor_system& sys, const std::string& host,
                                            std::uint16_t port);

} // namespace tasker::coordinator
