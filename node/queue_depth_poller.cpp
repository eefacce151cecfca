#include "node/queue_depth_poller.hpp"

#include "messaging/messages.hpp"
#include "messaging/queue_client.hpp"
#include "resources/broker.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace tasker::node {

using namespace tasker::messaging;

namespace {

using poll_atom = caf::atom_constant<caf::atom("depth_poll")>;

struct poller_state {
  queue_depth_poller_options options;
  resources::shared_connection conn;
  bool failing = false;

  static inline const char* name = "tasker.queue_depth_poller";
};

using poller_actor = caf::stateful_actor<poller_state>;

void poll(poller_actor* self) {
  auto& st = self->state;
  if (!st.conn) {
    auto opened = resources::open_connections({st.options.database_url, 1});
    if (!opened) {
      spdlog::warn("queue depth poller: cannot reconnect: {}",
                   self->system().render(opened.error()));
      return;
    }
    st.conn = std::move(opened->front());
  }
  try {
    pqxx::read_transaction tx{*st.conn};
    queue_depths out;
    for (const auto& m : queue_client::metrics_all(tx))
      out.queues.push_back(queue_depth{m.queue_name, m.visible_length});
    tx.commit();
    self->send(st.options.coordinator, std::move(out));
    if (st.failing)
      spdlog::info("queue depth poller: polling again");
    st.failing = false;
  } catch (const std::exception& e) {
    if (!st.failing)
      spdlog::warn("queue depth poller: poll failed: {}", e.what());
    st.failing = true;
    st.conn.reset();
  }
}

caf::behavior queue_depth_poller(poller_actor* self, queue_depth_poller_options options,
                                 resources::shared_connection conn) {
  self->state.options = std::move(options);
  self->state.conn = std::move(conn);
  self->send(self, poll_atom::value);
  return {
    [=](poll_atom) {
      poll(self);
      self->delayed_send(self, self->state.options.interval, poll_atom::value);
    },
    [=](const stop_request&) { self->quit(); },
  };
}

} // namespace

caf::expected<caf::actor> spawn_queue_depth_poller(caf::actor_system& sys,
                                                   queue_depth_poller_options options) {
  auto opened = resources::open_connections({options.database_url, 1});
  if (!opened)
    return std::move(opened.error());
  return sys.spawn<caf::detached>(queue_depth_poller, std::move(options),
                                  std::move(opened->front()));
}

} // namespace tasker::node
