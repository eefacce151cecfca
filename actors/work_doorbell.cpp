#include "actors/work_doorbell.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <system_error>

namespace tasker::actors {

using clock = std::chrono::steady_clock;
using messaging::queue_listener;

work_doorbell::work_doorbell(std::string database_url, std::string queue, std::size_t max_rings)
    : url_(std::move(database_url)), queue_(std::move(queue)),
      max_rings_(max_rings > 0 ? max_rings : 1) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0)
    throw std::system_error(errno, std::generic_category(), "eventfd for worker group " + queue_);
}

work_doorbell::~work_doorbell() {
  listener_.reset(); // UNLISTEN before the connection closes
  conn_.reset();
  ::close(wake_fd_);
}

queue_listener::woken work_doorbell::listen_until(clock::time_point deadline) {
  if (!listener_) {
    conn_ = std::make_unique<pqxx::connection>(url_);
    listener_ = std::make_unique<queue_listener>(*conn_, queue_);
  }
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
  auto woken = listener_->wait_or_wake(std::max(left, std::chrono::milliseconds{0}), wake_fd_);
  if (woken == queue_listener::woken::wake_fd) {
    std::uint64_t drained = 0;
    [[maybe_unused]] auto n = ::read(wake_fd_, &drained, sizeof drained);
  }
  return woken;
}

bool work_doorbell::wake_latest() {
  if (idle_.empty())
    return false;
  auto* next = idle_.back();
  idle_.pop_back();
  next->woken = true;
  next->cv.notify_one();
  return true;
}

bool work_doorbell::wait(std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  std::unique_lock lock{mutex_};
  for (;;) {
    if (rings_ > 0) {
      --rings_;
      return true;
    }
    if (clock::now() >= deadline)
      return false;
    if (!listening_) {
      listening_ = true;
      lock.unlock();
      auto woken = queue_listener::woken::timeout;
      try {
        woken = listen_until(deadline);
      } catch (...) {
        listener_.reset();
        conn_.reset();
        lock.lock();
        listening_ = false;
        wake_latest();
        throw;
      }
      lock.lock();
      listening_ = false;
      wake_latest(); // the latest idle actor takes over the connection
      if (woken == queue_listener::woken::notified)
        return true;
      continue; // rung: take the ring; timed out: report it
    }
    idle_actor self;
    idle_.push_back(&self);
    self.cv.wait_until(lock, deadline, [&] { return self.woken; });
    if (!self.woken) // timed out: still in the list
      idle_.erase(std::find(idle_.begin(), idle_.end(), &self));
  }
}

void work_doorbell::ring() {
  std::lock_guard lock{mutex_};
  if (rings_ < max_rings_)
    ++rings_;
  if (!wake_latest() && listening_) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }
}

std::size_t work_doorbell::pending_rings() {
  std::lock_guard lock{mutex_};
  return rings_;
}

} // namespace tasker::actors
