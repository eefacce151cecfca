#include "node/queue_depth_poller.hpp"

#include "messaging/archive_retention.hpp"
#include "messaging/messages.hpp"
#include "messaging/queue_client.hpp"
#include "resources/broker.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>

namespace tasker::node {

using namespace tasker::messaging;

namespace {

using poll_atom = caf::atom_constant<caf::atom("depth_poll")>;

struct poller_state {
  queue_depth_poller_options options;
  resources::shared_connection conn;
  bool failing = false;
  // Empty until the first purge, so a fresh poller purges at once.
  std::optional<std::chrono::steady_clock::time_point> next_purge;

  static inline const char* name = "tasker.queue_depth_poller";
};

using poller_actor = caf::stateful_actor<poller_state>;

bool connect(poller_actor* self) {
  auto& st = self->state;
  if (st.conn)
    return true;
  auto opened = resources::open_connections({st.options.database_url, 1});
  if (!opened) {
    spdlog::warn("queue depth poller: cannot reconnect: {}", self->system().render(opened.error()));
    return false;
  }
  st.conn = std::move(opened->front());
  return true;
}

void purge_archives_when_due(poller_actor* self) {
  auto& st = self->state;
  const auto now = std::chrono::steady_clock::now();
  if (st.options.archive_retention_days < 0 || (st.next_purge && now < *st.next_purge)
      || !connect(self))
    return;
  try {
    for (const auto& p : purge_archives(*st.conn, st.options.archive_retention_days))
      spdlog::info("archive retention: deleted {} archived messages of queue {} (older than {} "
                   "days)",
                   p.deleted, p.queue, st.options.archive_retention_days);
    st.next_purge = now + st.options.archive_purge_interval;
  } catch (const std::exception& e) {
    spdlog::warn("archive retention: purge failed, trying again in a minute: {}", e.what());
    st.next_purge = now + std::min<std::chrono::milliseconds>(st.options.archive_purge_interval,
                                                              std::chrono::minutes{1});
    st.conn.reset();
  }
}

void poll(poller_actor* self) {
  auto& st = self->state;
  if (!connect(self))
    return;
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
      purge_archives_when_due(self);
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
