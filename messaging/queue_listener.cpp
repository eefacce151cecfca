#include "messaging/queue_listener.hpp"

#include "messaging/queue_client.hpp"

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
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  conn_.get_notifs(); // whatever arrived while nobody was waiting
  // await_notification also returns on socket activity that is not a
  // notification (or none for us), so wait again for the time that is left.
  while (pending_ == 0) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - clock::now());
    if (left.count() <= 0)
      break;
    conn_.await_notification(static_cast<long>(left.count() / 1'000'000),
                             static_cast<long>(left.count() % 1'000'000));
  }
  bool woke = pending_ > 0;
  pending_ = 0;
  return woke;
}

} // namespace tasker::messaging
