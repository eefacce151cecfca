#pragma once
/// The queue-depth poller: every interval it reads the metrics of every queue
/// on its own connection (one of the node's reserved connections) and sends
/// their visible lengths to the coordinator as `messaging::queue_depths`. The
/// coordinator matches each queue to the pool that drains it (pool_spec::queue)
/// and ignores the rest, so the poller needs no knowledge of pools.
///
/// It also enforces archive retention on the same connection: at its first
/// tick and then every `archive_purge_interval`, it deletes archived messages
/// older than `archive_retention_days` from every queue
/// (messaging::purge_archives: bounded batches, each its own transaction)
/// and logs the count per queue at info level.
///
/// Failures: a failed poll or purge is logged, the connection reopened on the
/// next tick; the coordinator keeps the last depths it got meanwhile, and a
/// failed purge is tried again after a minute (or the purge interval, when
/// shorter).
///
/// Shutdown contract: on `stop_request` or an exit message it quits after the
/// poll in flight (one short query) and closes its connection.

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <string>

namespace tasker::node {

/// Where to poll, how often, and whom to tell.
struct queue_depth_poller_options {
  /// libpq URL of the database holding the queues.
  std::string database_url;
  /// Time between two polls (the coordinator's health interval).
  std::chrono::milliseconds interval{std::chrono::seconds{1}};
  /// Receives `queue_depths`.
  caf::actor coordinator;
  /// Archived messages older than this many days are deleted (0: all of
  /// them at every purge); negative: the poller never purges.
  int archive_retention_days = -1;
  /// Time between two archive purges.
  std::chrono::milliseconds archive_purge_interval{std::chrono::hours{1}};
};

/// Opens the poller's connection and spawns it detached (a poll blocks);
/// `errc::connect_failed` when it cannot connect.
caf::expected<caf::actor> spawn_queue_depth_poller(caf::actor_system& sys,
                                                   queue_depth_poller_options options);

} // namespace tasker::node
