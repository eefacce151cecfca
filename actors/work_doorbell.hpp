#pragma once
/// The wake-up of one worker group: one LISTEN connection for all of its
/// worker actors instead of one each.
///
/// Every send to a queue raises one notification; with a listening
/// connection per actor, each send woke every idle actor of the group and all
/// of them read the queue, one finding the message and the rest nothing (four
/// reads per step at concurrency 4, and four threads contending for the cores
/// the step's own path needed). Now the idle actors of a group share this
/// object: one of them at a time listens on the connection, the others wait
/// on a condition variable. A notification wakes only the listener, which
/// hands the connection to the next idle actor and goes to read. An actor
/// that reads a full batch rings the bell, since more messages may be
/// waiting: that wakes one idle actor (the listener too, through an eventfd),
/// so a burst spreads over the group one actor at a time.
///
/// The idle actor woken (to listen, or by a ring) is the one that went idle
/// last. Under light load the same one or two actors, and their database
/// sessions, run every step while their caches are warm, instead of the whole
/// group taking turns.
///
/// Thread-safe; each worker actor runs on its own (detached) thread and
/// blocks in wait().

#include "messaging/queue_listener.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tasker::actors {

class work_doorbell {
public:
  /// Listens on `queue`'s channel through its own connection to
  /// `database_url`, opened by the first wait(). At most `max_rings` rings are
  /// kept for actors that are not waiting yet (the group's concurrency).
  work_doorbell(std::string database_url, std::string queue, std::size_t max_rings);
  ~work_doorbell();
  work_doorbell(const work_doorbell&) = delete;
  work_doorbell& operator=(const work_doorbell&) = delete;

  /// Blocks until work may be waiting (a send was notified, or the bell rang)
  /// or `timeout` passed; false in the last case. Throws pqxx errors when the
  /// LISTEN connection cannot be opened or breaks (the next wait reconnects).
  bool wait(std::chrono::milliseconds timeout);

  /// More work may be waiting: wakes one waiting actor, or lets the next
  /// wait() return at once.
  void ring();

  /// Rings kept for the next waits (for tests).
  std::size_t pending_rings();

private:
  // Listens until a notification, a ring or the deadline; under listening_.
  messaging::queue_listener::woken listen_until(std::chrono::steady_clock::time_point deadline);

  std::string url_;
  std::string queue_;
  std::size_t max_rings_;
  int wake_fd_ = -1;

  // An actor waiting for its turn; woken by wake_latest().
  struct idle_actor {
    std::condition_variable cv;
    bool woken = false;
  };
  // Wakes the actor that went idle last, if any; under mutex_.
  bool wake_latest();

  std::mutex mutex_;
  std::vector<idle_actor*> idle_; // waiting actors, the latest last
  std::size_t rings_ = 0;
  bool listening_ = false; // an actor is in listen_until

  // Touched only by the actor that set listening_.
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<messaging::queue_listener> listener_;
};

} // namespace tasker::actors
