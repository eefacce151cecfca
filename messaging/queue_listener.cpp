#include "messaging/queue_listener.hpp"

#include "messaging/queue_client.hpp"

#include <poll.h>

#include <cerrno>
#include <system_error>

namespace tasker::messaging {

class queue_listener::receiver : public pqxx::notification_receiver {
public:
  receiver(pqxx::connection_base& conn, const std::string& channel, std::size_t& pending)
      : pqxx::notification_receiver(conn, channel), pending_(pending) {}

  void operator()(const std::string&, int) override { ++pending_; }

private:
  std::size_t& pending_;
};

queue_listener::queue_listener(pqxx::connection_base& conn, std::string_view queue)
    : conn_(conn), channel_(notify_channel(queue)),
      receiver_(std::make_unique<receiver>(conn, channel_, pending_)) {}

queue_listener::~queue_listener() = default;

bool queue_listener::wait(std::chrono::milliseconds timeout) {
  return wait_or_wake(timeout, -1) == woken::notified;
}

queue_listener::woken queue_listener::wait_or_wake(std::chrono::milliseconds timeout,
                                                   int wake_fd) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  conn_.get_notifs(); // whatever arrived while nobody was waiting
  auto result = woken::timeout;
  // The socket also becomes readable for input that is no notification (or
  // none for us), so wait again for the time that is left.
  while (pending_ == 0) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0)
      break;
    pollfd fds[2] = {{conn_.sock(), POLLIN, 0}, {wake_fd, POLLIN, 0}};
    int n = ::poll(fds, wake_fd >= 0 ? 2 : 1, static_cast<int>(left.count()));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      throw std::system_error(errno, std::generic_category(), "poll on the LISTEN connection");
    }
    if (wake_fd >= 0 && (fds[1].revents & POLLIN) != 0) {
      result = woken::wake_fd;
      break;
    }
    if (fds[0].revents != 0)
      conn_.get_notifs(); // throws pqxx::broken_connection when the connection is gone
  }
  if (pending_ > 0)
    result = woken::notified;
  pending_ = 0;
  return result;
}

} // namespace tasker::messaging
