#include "actors/notify_listener.hpp"

#include "messaging/queue_client.hpp"
#include "resources/broker.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>

namespace tasker::actors {

using namespace tasker::messaging;

namespace {

// Records the channel of every notification; the actor dispatches them after
// the wait returns, so no CAF call happens inside libpq's callback.
class channel_receiver : public pqxx::notification_receiver {
public:
  channel_receiver(pqxx::connection_base& conn, const std::string& channel,
                   std::vector<std::string>& fired)
    : pqxx::notification_receiver(conn, channel), fired_(fired) {}

  void operator()(const std::string&, int) override { fired_.push_back(channel()); }

private:
  std::vector<std::string>& fired_;
};

struct subscriber {
  caf::actor handle;
  std::string name;  // as subscribed: what the wake carries
  std::string group; // empty: woken by every notification
};

struct listener_state {
  notify_listener_options options;
  // Declared before the receivers so that they UNLISTEN before it closes.
  resources::shared_connection conn;
  std::vector<std::string> fired;
  std::map<std::string, std::unique_ptr<channel_receiver>> receivers;
  std::map<std::string, std::vector<subscriber>> subscribers;
  // Per channel and group: how many notifications the group has had, so each
  // goes to the next subscriber of the group in turn.
  std::map<std::pair<std::string, std::string>, std::size_t> turns;
  std::set<caf::actor_addr> monitored;
  std::uint64_t delivered = 0;
  bool stopping = false;
  // A listen_atom is on its way: the wait loop is running.
  bool armed = false;
  // Short waits after a subscription, doubling up to options.wait_timeout.
  // (set from the options when the behavior starts)
  wait_schedule waits{std::chrono::microseconds{0}};

  static inline const char* name = "tasker.notify_listener";
};

using listener_actor = caf::stateful_actor<listener_state>;

void listen_on(listener_actor* self, const std::string& channel) {
  auto& st = self->state;
  if (!st.conn || st.receivers.count(channel) > 0)
    return;
  st.receivers.emplace(channel, std::make_unique<channel_receiver>(*st.conn, channel, st.fired));
}

void drop_connection(listener_actor* self, const std::string& why) {
  auto& st = self->state;
  spdlog::warn("notify listener: connection lost ({}); reconnecting in {} ms", why,
               st.options.reconnect_delay.count());
  st.receivers.clear();
  st.conn.reset();
  st.fired.clear();
}

bool reconnect(listener_actor* self) {
  auto& st = self->state;
  auto opened = resources::open_connections({st.options.database_url, 1});
  if (!opened) {
    spdlog::warn("notify listener: reconnect failed: {}", self->system().render(opened.error()));
    return false;
  }
  st.conn = std::move(opened->front());
  for (auto& [channel, subs] : st.subscribers)
    listen_on(self, channel);
  spdlog::info("notify listener: reconnected, listening on {} channels", st.receivers.size());
  return true;
}

void dispatch(listener_actor* self) {
  auto& st = self->state;
  std::vector<std::string> fired;
  fired.swap(st.fired);
  // Several sends in one wait are one hint: wake each subscriber once per channel.
  std::sort(fired.begin(), fired.end());
  fired.erase(std::unique(fired.begin(), fired.end()), fired.end());
  for (const auto& channel : fired) {
    auto it = st.subscribers.find(channel);
    if (it == st.subscribers.end())
      continue;
    std::map<std::string, std::vector<const subscriber*>> groups;
    for (const auto& sub : it->second) {
      if (!sub.group.empty()) {
        groups[sub.group].push_back(&sub);
        continue;
      }
      self->send(sub.handle, wake{sub.name});
      ++st.delivered;
    }
    for (const auto& [group, members] : groups) {
      auto& turn = st.turns[{channel, group}];
      const auto* sub = members[turn++ % members.size()];
      self->send(sub->handle, wake{sub->name});
      ++st.delivered;
    }
  }
}

// Keeps the wait loop going, at once or after `delay`: one listen_atom in
// flight at a time.
void arm(listener_actor* self, caf::timespan delay = caf::timespan{0}) {
  auto& st = self->state;
  if (st.armed || st.stopping)
    return;
  st.armed = true;
  if (delay.count() > 0)
    self->delayed_send(self, delay, listen_atom::value);
  else
    self->send(self, listen_atom::value);
}

void wait_once(listener_actor* self) {
  auto& st = self->state;
  st.armed = false;
  if (st.stopping)
    return;
  if (!st.conn && !reconnect(self)) {
    arm(self, st.options.reconnect_delay);
    return;
  }
  // Nothing to listen on: no wait, so the first subscription is handled the
  // moment it arrives; it starts the loop again.
  if (st.receivers.empty())
    return;
  const auto timeout = st.waits.next();
  try {
    st.conn->await_notification(static_cast<long>(timeout.count() / 1000000),
                                static_cast<long>(timeout.count() % 1000000));
  } catch (const std::exception& e) {
    drop_connection(self, e.what());
    arm(self, st.options.reconnect_delay);
    return;
  }
  dispatch(self);
  // Behind whatever reached the mailbox during the wait.
  arm(self);
}

caf::behavior notify_listener(listener_actor* self, notify_listener_options options,
                              resources::shared_connection conn) {
  self->state.waits = wait_schedule{
    std::chrono::duration_cast<std::chrono::microseconds>(options.wait_timeout)};
  self->state.options = std::move(options);
  self->state.conn = std::move(conn);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    st.monitored.erase(dm.source);
    for (auto& [channel, subs] : st.subscribers)
      subs.erase(std::remove_if(subs.begin(), subs.end(),
                                [&](const subscriber& s) { return s.handle.address() == dm.source; }),
                 subs.end());
  });
  arm(self);
  return {
    [=](listen_atom) { wait_once(self); },
    [=](const subscribe_wake& req) {
      auto& st = self->state;
      auto sender = caf::actor_cast<caf::actor>(self->current_sender());
      if (!sender)
        return;
      if (st.monitored.insert(sender.address()).second)
        self->monitor(sender);
      for (const auto& name : req.channels) {
        std::string channel;
        try {
          channel = channel_for(name);
        } catch (const std::invalid_argument& e) {
          spdlog::warn("notify listener: ignoring subscription to '{}': {}", name, e.what());
          continue;
        }
        auto& subs = st.subscribers[channel];
        auto known = std::any_of(subs.begin(), subs.end(), [&](const subscriber& s) {
          return s.handle == sender && s.name == name;
        });
        if (!known)
          subs.push_back(subscriber{sender, name, req.group});
        try {
          listen_on(self, channel);
        } catch (const std::exception& e) {
          // Picked up again by the reconnect, which LISTENs on every channel.
          drop_connection(self, e.what());
        }
      }
      // Subscriptions come in bursts (every executor of a starting node
      // subscribes within a few milliseconds), each LISTENed on only when the
      // wait in progress ends: keep the next waits short.
      self->state.waits.restart();
      arm(self);
    },
    [=](const stop_request&) {
      self->state.stopping = true;
      self->quit();
    },
    [=](status_atom) { return self->state.delivered; },
  };
}

} // namespace

std::string channel_for(std::string_view name) {
  if (name.substr(0, 7) == "tasker_")
    return std::string{name};
  return notify_channel(name);
}

caf::expected<caf::actor> spawn_notify_listener(caf::actor_system& sys,
                                                notify_listener_options options) {
  auto opened = resources::open_connections({options.database_url, 1});
  if (!opened)
    return std::move(opened.error());
  return sys.spawn<caf::detached>(notify_listener, std::move(options),
                                  std::move(opened->front()));
}

} // namespace tasker::actors
