#pragma once
/// The cluster member: a node's entry in the `nodes` table.
///
/// It registers the node when spawned, then on every heartbeat interval, in
/// one short transaction on its own connection (reserved outside the broker's
/// executor budget, never a broker lease): records the node's heartbeat, and
/// sweeps every live node whose heartbeat is older than `stale_after` — they
/// are marked dead and their task claims released, so this node can claim
/// their tasks at once. A failed beat is logged and retried on the next one
/// over a fresh connection; a node whose own row went missing registers again.
///
/// Protocol: `node_beat_atom` (its own timer); `stop_request` → marks the node
/// stopped and quits.
///
/// Shutdown contract: on `stop_request`, on the end of the watched actor (the
/// coordinator, normally) or on an exit message, the member marks the node
/// stopped in one transaction and quits; it holds no other resource. A node
/// killed without that is swept as dead by its peers after `stale_after`.

#include "messaging/messages.hpp"
#include "resources/store_nodes.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace tasker::coordinator {

/// How a node takes part in the cluster.
struct cluster_member_options {
  /// libpq URL of the database holding the `nodes` table.
  std::string database_url;
  /// What the node registers about itself.
  resources::node_registration node;
  /// Period of heartbeats and sweeps.
  caf::timespan heartbeat_interval{std::chrono::seconds{5}};
  /// Heartbeat age after which a peer counts as dead; keep it several intervals.
  caf::timespan stale_after{std::chrono::seconds{30}};
  /// When set, the member marks the node stopped and quits once this actor is gone.
  caf::actor watch;
  /// Spawn detached (production: libpqxx blocks) or on the scheduler.
  bool detached = true;
};

/// The member's state; see the file comment for the protocol.
struct cluster_member_state {
  cluster_member_options options;
  /// The reserved connection; null after a failure until the next beat reconnects.
  std::shared_ptr<pqxx::connection> connection;
  std::uint64_t beats = 0;       ///< successful heartbeats
  std::uint64_t failures = 0;    ///< failed heartbeats
  std::uint64_t swept_dead = 0;  ///< peers this member marked dead

  /// Name under which CAF reports this actor.
  static inline const char* name = "tasker.cluster_member";
};

/// The member's behavior; the node must already be registered on `connection`.
caf::behavior cluster_member(caf::stateful_actor<cluster_member_state>* self,
                             cluster_member_options options,
                             std::shared_ptr<pqxx::connection> connection);

/// Opens the reserved connection, registers the node (failing fast when the
/// database is unreachable or not migrated) and spawns its cluster member.
caf::expected<caf::actor> spawn_cluster_member(caf::actor_system& sys,
                                               cluster_member_options options);

} // namespace tasker::coordinator
