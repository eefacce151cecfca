#pragma once
/// The notification listener: one PostgreSQL connection of its own (one of the
/// node's reserved connections, never leased from the broker) that LISTENs on
/// the channels its subscribers name and turns each notification into a
/// `messaging::wake` for every subscriber of that channel.
///
/// Protocol:
///   subscribe_wake{names, group}  from any actor: the sender receives `wake{name}`
///                          whenever `name` is notified (see channel_for); with
///                          a non-empty group only one member of the group is
///                          woken per notification, each in turn
///   stop_request           quits after the current wait
///   status_atom            → std::uint64_t notifications delivered so far
///
/// Waiting: PostgreSQL delivers notifications only to a connection that reads
/// from its socket, so the actor blocks in `await_notification` for at most
/// `wait_timeout` per turn and then re-queues itself behind whatever arrived in
/// its mailbox meanwhile; a subscription is LISTENed on when the wait in
/// progress ends. With nothing subscribed it does not wait, so the first
/// subscription is in force at once; after each subscription the waits start
/// at 1 ms and double up to `wait_timeout`, so the burst of subscriptions of a
/// starting node is in force within milliseconds, not one long wait after
/// another. It never spins: an idle listener wakes 1 / wait_timeout times a
/// second. It is spawned detached because of that blocking wait.
///
/// Failures: a broken connection is logged and reopened after
/// `reconnect_delay`, LISTENing on every channel again; subscribers keep their
/// subscriptions. Notifications sent while the connection was down are lost,
/// which is harmless because every consumer also polls.
///
/// Shutdown contract: on `stop_request` or an exit message the listener
/// finishes its current wait (at most `wait_timeout`), closes its connection
/// and quits. Subscribers that terminate are forgotten (it monitors them).

#include "messaging/messages.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace tasker::actors {

/// How the listener connects and waits.
struct notify_listener_options {
  /// libpq URL of the database to listen on.
  std::string database_url;
  /// Longest single blocking wait; bounds how late mailbox messages are seen.
  std::chrono::milliseconds wait_timeout{200};
  /// Pause before reopening a broken connection.
  std::chrono::milliseconds reconnect_delay{1000};
};

/// The lengths of the listener's waits: `first` after `restart()` (a
/// subscription), then twice the previous one, up to `longest` (never below
/// `first`). Before the first restart every wait is `longest`.
class wait_schedule {
public:
  static constexpr std::chrono::microseconds first{1000};

  explicit wait_schedule(std::chrono::microseconds longest) noexcept
    : longest_(std::max(longest, first)), next_(longest_) {}

  /// Back to the shortest wait.
  void restart() noexcept { next_ = first; }

  /// The next wait's length.
  std::chrono::microseconds next() noexcept {
    auto out = next_;
    next_ = std::min(next_ * 2, longest_);
    return out;
  }

private:
  std::chrono::microseconds longest_;
  std::chrono::microseconds next_;
};

/// The PostgreSQL channel a subscription name stands for: a name starting
/// with "tasker_" is a channel already (e.g. "tasker_tasks_ready" or
/// "tasker_mq_<queue>"); any other name is a queue, whose channel is
/// messaging::notify_channel(name). Throws std::invalid_argument for an
/// invalid queue name.
std::string channel_for(std::string_view name);

/// Opens the listener's connection and spawns it detached; the connection
/// error (`errc::connect_failed`, without the password) when it cannot connect.
caf::expected<caf::actor> spawn_notify_listener(caf::actor_system& sys,
                                                notify_listener_options options);

} // namespace tasker::actors
