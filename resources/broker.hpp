#pragma once
/// The resource broker: the one owner of the runtime's PostgreSQL connections.
///
/// Executors lease a connection per batch and give it back afterwards, so the
/// number of connections the runtime uses never exceeds the broker's size (the
/// connection budget). Waiters are served by weight, then by arrival; a waiter
/// that waits longer than its timeout gets `errc::lease_timeout`.
///
/// A free slot whose connection is closed (broken, reclaimed) is reopened
/// before it is granted. When that fails the database is unreachable, which
/// no wait fixes: the request, and every waiter, gets `errc::connect_failed`
/// with libpq's message at once, so executors count a failure (their breakers
/// open) instead of mistaking an outage for a busy pool.
///
/// Protocol:
///   lease_request        → connection_lease | error (lease_timeout, broker_closed,
///                          connect_failed)
///   lease_return         → (no reply)  reconnects the slot when `broken`
///   status_atom          → broker_status
///   close_atom           → broker_status (final), then the broker quits
///
/// Shutdown contract: on `close_atom` the broker stops granting (every waiter
/// gets `errc::broker_closed`), closes the connections it holds, replies with
/// its final status and quits. A lease still out at that time keeps its
/// connection alive until the holder drops it; the runtime drains every
/// executor before closing the broker, so normally none is out.

#include "messaging/messages.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tasker::resources {

/// What the broker needs to open and reopen its connections.
struct broker_options {
  /// libpq URL or key=value string of the database.
  std::string database_url;
  /// Number of connections: the runtime's connection budget for executors.
  std::size_t size = 1;
};

/// A shared PostgreSQL connection as the broker hands it out.
using shared_connection = std::shared_ptr<pqxx::connection>;

/// Opens `opts.size` connections; `errc::connect_failed` (with the libpq
/// message, never the password) when any of them cannot be opened.
caf::expected<std::vector<shared_connection>> open_connections(const broker_options& opts);

/// One connection slot of the broker.
struct broker_slot {
  shared_connection connection;
  bool leased = false;
  std::uint64_t lease_id = 0;
  caf::actor_addr holder;
  std::string holder_name;
  caf::actor_clock::time_point since{};
};

/// A lease request that could not be served yet.
struct broker_waiter {
  std::uint64_t seq = 0;
  double weight = 1.0;
  caf::response_promise promise;
  caf::actor_addr holder;
  std::string holder_name;
};

/// The broker's state; see the file comment for the protocol.
struct broker_state {
  broker_options options;
  std::vector<broker_slot> slots;
  std::vector<broker_waiter> waiters;
  std::uint64_t next_lease_id = 1;
  std::uint64_t next_seq = 1;
  std::uint64_t grants = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t reclaimed = 0;
  /// The most connections leased out at once so far.
  std::uint32_t peak_leased = 0;
  /// libpq's message from the last failed reopen.
  std::string last_connect_error;
  bool closing = false;

  /// Name under which CAF reports this actor.
  static inline const char* name = "tasker.broker";
};

/// The broker's behavior over already opened `connections`.
caf::behavior broker(caf::stateful_actor<broker_state>* self, broker_options opts,
                     std::vector<shared_connection> connections);

/// Opens the connections, then spawns the broker; detached by default because
/// reopening a broken connection blocks.
caf::expected<caf::actor> spawn_broker(caf::actor_system& sys, broker_options opts,
                                       bool detached = true);

} // namespace tasker::resources
