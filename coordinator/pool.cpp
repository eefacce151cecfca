#include "coordinator/pool.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace tasker::coordinator {

using namespace tasker::messaging;

namespace {

using pool_actor = caf::stateful_actor<pool_state>;

std::size_t active_count(const pool_state& st) {
  return static_cast<std::size_t>(std::count_if(
    st.members.begin(), st.members.end(), [](const pool_member_record& m) { return !m.draining; }));
}

pool_member_record* find_member(pool_state& st, std::uint64_t id) {
  for (auto& m : st.members)
    if (m.handle.id() == id)
      return &m;
  return nullptr;
}

void tell_coordinator(pool_actor* self, caf::message msg) {
  if (self->state.peers.coordinator)
    self->send(self->state.peers.coordinator, std::move(msg));
}

void spawn_one(pool_actor* self) {
  auto& st = self->state;
  spawn_context ctx{st.options.name,        caf::actor_cast<caf::actor>(self),
                    st.peers.coordinator,   st.peers.broker,
                    st.peers.listener,      st.backpressure,
                    st.options.resource_weight, st.options.detached,
                    st.paused};
  auto hdl = st.factory(self->system(), ctx);
  if (!hdl)
    return;
  // Linked both ways: a crash reaches the pool as an exit message, and an
  // abnormal end of the pool takes its executors with it.
  self->link_to(hdl);
  st.members.push_back(pool_member_record{hdl, self->clock().now(), false});
  ++st.spawned;
  tell_coordinator(self, caf::make_message(executor_joined{st.options.name, hdl.id()}));
}

// Marks `m` as leaving; its exit is then expected and never restarted.
void retire(pool_actor* self, pool_member_record& m, const std::string& reason) {
  m.draining = true;
  tell_coordinator(self,
                   caf::make_message(executor_left{self->state.options.name, m.handle.id(), reason}));
}

void drain(pool_actor* self, pool_member_record& m, const std::string& reason) {
  retire(self, m, reason);
  self->send(m.handle, stop_request{true});
  self->delayed_send(self, self->state.options.stop_timeout, stop_timeout_atom::value,
                     m.handle.id());
}

void finish_stop_if_empty(pool_actor* self);

// Ends a retired member now. Unlinked first: CAF drops the link to the sender
// of an exit message, so the victim's end would never reach the pool, and an
// exit of its own racing the kill would look like a stranger's failure. The
// member is forgotten at once; a blocked executor dies when its call returns
// and the broker reclaims its lease.
void kill_member(pool_actor* self, std::uint64_t id, caf::error reason) {
  auto& st = self->state;
  auto i = std::find_if(st.members.begin(), st.members.end(),
                        [&](const pool_member_record& m) { return m.handle.id() == id; });
  if (i == st.members.end())
    return;
  auto hdl = i->handle;
  st.members.erase(i);
  self->unlink_from(hdl);
  self->send_exit(hdl, std::move(reason));
  finish_stop_if_empty(self);
}

pool_status status_of(pool_actor* self) {
  auto& st = self->state;
  pool_status out;
  out.name = st.options.name;
  out.failed = st.failed;
  out.min = static_cast<std::uint32_t>(st.options.min);
  out.max = static_cast<std::uint32_t>(st.options.max);
  out.backpressure = st.backpressure;
  out.spawned = st.spawned;
  out.restarts = st.restarts;
  out.recycled = st.recycled;
  out.replaced = st.replaced;
  out.paused = st.paused;
  auto now = self->clock().now();
  for (auto& m : st.members)
    out.members.push_back(pool_member{m.handle.id(), m.draining,
                                      std::chrono::duration_cast<caf::timespan>(now - m.spawned_at)});
  return out;
}

void finish_stop_if_empty(pool_actor* self) {
  auto& st = self->state;
  if (!st.stopping || !st.members.empty())
    return;
  if (st.stop_promise.pending())
    st.stop_promise.deliver(status_of(self));
  self->quit();
}

void on_member_exit(pool_actor* self, const caf::exit_msg& msg) {
  auto& st = self->state;
  auto i = std::find_if(st.members.begin(), st.members.end(), [&](const pool_member_record& m) {
    return m.handle.address() == msg.source;
  });
  if (i == st.members.end()) {
    // Not an executor: an abnormal exit of a linked peer ends the pool too.
    if (msg.reason && msg.reason != caf::exit_reason::normal)
      self->quit(msg.reason);
    return;
  }
  bool expected = i->draining;
  auto id = i->handle.id();
  st.members.erase(i);
  if (!expected && !st.stopping && !st.failed) {
    tell_coordinator(self, caf::make_message(
                             executor_left{st.options.name, id, self->system().render(msg.reason)}));
    if (st.intensity.record_restart(self->clock().now()) == restart_verdict::escalate) {
      st.failed = true;
      tell_coordinator(self, caf::make_message(pool_failed{
                               st.options.name, static_cast<std::uint32_t>(st.restarts + 1),
                               std::chrono::duration_cast<caf::timespan>(
                                 st.options.restart.period),
                               self->system().render(msg.reason)}));
      for (auto& m : st.members)
        if (!m.draining)
          drain(self, m, "pool_failed");
    } else {
      ++st.restarts;
      spawn_one(self);
    }
  }
  finish_stop_if_empty(self);
}

} // namespace

caf::behavior pool(pool_actor* self, pool_options options, pool_peers peers,
                   executor_factory factory) {
  auto& st = self->state;
  st.intensity = restart_intensity{options.restart};
  st.options = std::move(options);
  st.peers = std::move(peers);
  st.factory = std::move(factory);
  self->set_exit_handler([=](caf::exit_msg& msg) { on_member_exit(self, msg); });
  for (std::size_t i = 0; i < self->state.options.min; ++i)
    spawn_one(self);
  return {
    [=](const scale_up& req) {
      auto& st = self->state;
      if (st.failed || st.stopping)
        return;
      auto active = active_count(st);
      auto room = st.options.max > active ? st.options.max - active : 0;
      auto n = std::min<std::size_t>(req.count, room);
      for (std::size_t i = 0; i < n; ++i)
        spawn_one(self);
    },
    [=](const scale_down& req) {
      auto& st = self->state;
      if (st.failed || st.stopping)
        return;
      auto active = active_count(st);
      auto surplus = active > st.options.min ? active - st.options.min : 0;
      auto n = std::min<std::size_t>(req.count, surplus);
      // The youngest go first: the oldest are closest to their recycle budget
      // anyway, and keeping them keeps the pool's warm connections.
      for (auto i = st.members.rbegin(); i != st.members.rend() && n > 0; ++i) {
        if (i->draining)
          continue;
        drain(self, *i, "scale_down");
        --n;
      }
    },
    [=](const replace_executor& req) {
      auto& st = self->state;
      auto m = find_member(st, req.executor);
      if (m == nullptr || m->draining)
        return;
      retire(self, *m, req.reason.empty() ? "replaced" : req.reason);
      ++st.replaced;
      // A stale executor is likely blocked: a stop message would wait behind
      // the blocking call, so it is killed and its lease reclaimed by the broker.
      kill_member(self, req.executor, make_error(executor_exit::unhealthy));
      if (!st.failed && !st.stopping)
        spawn_one(self);
    },
    [=](const recycle_request& req) {
      auto& st = self->state;
      auto m = find_member(st, req.executor);
      if (m == nullptr || m->draining || st.failed || st.stopping)
        return;
      ++st.recycled;
      // The successor starts first so the pool never dips below its size.
      drain(self, *m, req.reason.empty() ? "recycled" : req.reason);
      spawn_one(self);
    },
    [=](stop_timeout_atom, std::uint64_t id) {
      kill_member(self, id, make_error(executor_exit::stop_timeout));
    },
    [=](const backpressure& bp) {
      auto& st = self->state;
      st.backpressure = bp.factor;
      for (auto& m : st.members)
        if (!m.draining)
          self->send(m.handle, bp);
    },
    [=](const pause_batches& req) {
      auto& st = self->state;
      st.paused = req.paused;
      for (auto& m : st.members)
        if (!m.draining)
          self->send(m.handle, req);
    },
    [=](status_atom) { return status_of(self); },
    [=](const stop_request& req) -> caf::result<pool_status> {
      auto& st = self->state;
      st.stopping = true;
      std::vector<std::uint64_t> to_kill;
      for (auto& m : st.members) {
        if (!req.graceful) {
          if (!m.draining)
            retire(self, m, "shutdown");
          to_kill.push_back(m.handle.id());
        } else if (!m.draining) {
          drain(self, m, "shutdown");
        }
      }
      for (auto id : to_kill)
        kill_member(self, id, caf::exit_reason::user_shutdown);
      if (st.members.empty()) {
        auto out = status_of(self);
        self->quit();
        return out;
      }
      st.stop_promise = self->make_response_promise();
      return caf::delegated<pool_status>{};
    },
  };
}

} // namespace tasker::coordinator
