#pragma once
/// Wake-up for queue consumers: blocks until a send to the queue commits or a
/// timeout passes, so an executor sleeps between polls instead of spinning.

#include <pqxx/pqxx>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace tasker::messaging {

/// LISTENs on a queue's channel (notify_channel(queue)) on `conn` for its lifetime.
///
/// Contract: PostgreSQL delivers notifications only between transactions, so
/// `conn` must have no transaction open while wait() runs; a connection used
/// only for listening is simplest. A notification that arrives while nobody
/// waits is kept and makes the next wait() return true at once, so the loop
/// "listen; read until empty; wait(poll interval)" never misses a send.
/// Notifications are a hint, not a message count: several sends may wake one
/// wait(), and consumers must always read the queue after waking (or timing out).
class queue_listener {
public:
  /// Starts listening; throws std::invalid_argument for an invalid queue name.
  queue_listener(pqxx::connection_base& conn, std::string_view queue);
  ~queue_listener();
  queue_listener(const queue_listener&) = delete;
  queue_listener& operator=(const queue_listener&) = delete;

  /// The channel listened on: "tasker_mq_<queue>".
  const std::string& channel() const noexcept { return channel_; }

  /// Blocks until at least one notification for the queue arrived since the
  /// previous wait(), or `timeout` passed; true in the first case. Consumes
  /// the notifications it reports. Throws pqxx::broken_connection when the
  /// connection fails.
  bool wait(std::chrono::milliseconds timeout);

  /// What ended a wait_or_wake().
  enum class woken { notified, wake_fd, timeout };

  /// As wait(), and also returns when `wake_fd` (e.g. an eventfd; -1: none)
  /// becomes readable. Reading `wake_fd` is the caller's: it stays readable.
  woken wait_or_wake(std::chrono::milliseconds timeout, int wake_fd);

private:
  class receiver;

  pqxx::connection_base& conn_;
  std::string channel_;
  std::size_t pending_ = 0;
  std::unique_ptr<receiver> receiver_;
};

} // namespace tasker::messaging
