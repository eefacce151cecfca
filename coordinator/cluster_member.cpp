#include "coordinator/cluster_member.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace tasker::coordinator {

using namespace tasker::messaging;

namespace {

using member_ptr = caf::stateful_actor<cluster_member_state>*;

std::chrono::milliseconds as_millis(caf::timespan d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

void beat(member_ptr self) {
  auto& st = self->state;
  const auto& id = st.options.node.node_id;
  try {
    if (!st.connection)
      st.connection = std::make_shared<pqxx::connection>(st.options.database_url);
    pqxx::work tx{*st.connection};
    auto previous = resources::heartbeat_node(tx, id);
    if (!previous) {
      spdlog::warn("cluster: node {} was not registered; registering again", id);
      resources::register_node(tx, st.options.node);
    } else if (*previous == resources::node_status::dead) {
      spdlog::warn("cluster: node {} had been swept as dead; its task claims were released", id);
    }
    auto dead = resources::mark_dead_nodes(tx, as_millis(st.options.stale_after));
    tx.commit();
    ++st.beats;
    st.swept_dead += dead.size();
    for (auto& other : dead)
      spdlog::warn("cluster: node {} missed its heartbeats; marked dead, claims released", other);
  } catch (const std::exception& e) {
    ++st.failures;
    st.connection.reset(); // reconnect on the next beat
    spdlog::error("cluster: heartbeat of node {} failed: {}", id, e.what());
  }
}

void leave(member_ptr self, caf::error reason) {
  auto& st = self->state;
  const auto& id = st.options.node.node_id;
  try {
    if (!st.connection)
      st.connection = std::make_shared<pqxx::connection>(st.options.database_url);
    pqxx::work tx{*st.connection};
    resources::mark_node_stopped(tx, id);
    tx.commit();
  } catch (const std::exception& e) {
    spdlog::error("cluster: could not mark node {} stopped ({}); peers will sweep it", id,
                  e.what());
  }
  st.connection.reset();
  self->quit(std::move(reason));
}

} // namespace

caf::behavior cluster_member(member_ptr self, cluster_member_options options,
                             std::shared_ptr<pqxx::connection> connection) {
  auto& st = self->state;
  st.options = std::move(options);
  st.connection = std::move(connection);
  if (st.options.watch) {
    self->monitor(st.options.watch);
    self->set_down_handler([=](caf::down_msg& dm) {
      if (dm.source == self->state.options.watch.address())
        leave(self, caf::exit_reason::normal);
    });
  }
  self->set_exit_handler([=](caf::exit_msg& msg) { leave(self, std::move(msg.reason)); });
  self->delayed_send(self, st.options.heartbeat_interval, node_beat_atom::value);
  return {
    [=](node_beat_atom) {
      beat(self);
      self->delayed_send(self, self->state.options.heartbeat_interval, node_beat_atom::value);
    },
    [=](const stop_request&) { leave(self, caf::exit_reason::normal); },
  };
}

caf::expected<caf::actor> spawn_cluster_member(caf::actor_system& sys,
                                               cluster_member_options options) {
  std::shared_ptr<pqxx::connection> conn;
  try {
    conn = std::make_shared<pqxx::connection>(options.database_url);
    pqxx::work tx{*conn};
    resources::register_node(tx, options.node);
    tx.commit();
  } catch (const std::exception& e) {
    return make_error(errc::connect_failed, "cluster: cannot register node '"
                                              + options.node.node_id + "': " + e.what());
  }
  if (options.detached)
    return sys.spawn<caf::detached>(cluster_member, std::move(options), std::move(conn));
  return sys.spawn(cluster_member, std::move(options), std::move(conn));
}

} // namespace tasker::coordinator
