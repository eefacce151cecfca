#include "resources/broker.hpp"

#include "resources/session.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace tasker::resources {

using namespace tasker::messaging;

namespace {

using broker_actor = caf::stateful_actor<broker_state>;

// libpq's own message names the host and the reason; it never echoes the
// password, so it is safe to pass on.
caf::expected<shared_connection> open_one(const std::string& url) {
  try {
    auto conn = std::make_shared<pqxx::connection>(url);
    apply_session_settings(*conn);
    return conn;
  } catch (const std::exception& e) {
    return make_error(errc::connect_failed,
                      std::string{"cannot open a database connection: "} + e.what());
  }
}

// Reopens the slot's connection when it is closed. A fresh object rather than
// an in-place reconnect: a former holder may still hold the old pointer.
bool ensure_open(broker_actor* self, broker_slot& slot) {
  if (slot.connection && slot.connection->is_open())
    return true;
  auto conn = open_one(self->state.options.database_url);
  if (!conn) {
    // libpq's message travels as the error's context.
    const auto& ctx = conn.error().context();
    self->state.last_connect_error = ctx.match_elements<std::string>()
                                       ? ctx.get_as<std::string>(0)
                                       : self->system().render(conn.error());
    return false;
  }
  slot.connection = std::move(*conn);
  ++self->state.reconnects;
  return true;
}

void release(broker_actor* self, broker_slot& slot) {
  auto holder = slot.holder;
  slot.leased = false;
  slot.lease_id = 0;
  slot.holder = nullptr;
  slot.holder_name.clear();
  auto& slots = self->state.slots;
  bool still_holds = std::any_of(slots.begin(), slots.end(), [&](const broker_slot& s) {
    return s.leased && s.holder == holder;
  });
  if (!still_holds && holder)
    self->demonitor(holder);
}

connection_lease grant(broker_actor* self, broker_slot& slot, const caf::actor_addr& holder,
                       std::string holder_name) {
  auto& st = self->state;
  bool already_monitored = std::any_of(st.slots.begin(), st.slots.end(),
                                       [&](const broker_slot& s) {
                                         return s.leased && s.holder == holder;
                                       });
  slot.leased = true;
  const auto leased = std::count_if(st.slots.begin(), st.slots.end(),
                                    [](const broker_slot& s) { return s.leased; });
  st.peak_leased = std::max(st.peak_leased, static_cast<std::uint32_t>(leased));
  slot.lease_id = st.next_lease_id++;
  slot.holder = holder;
  slot.holder_name = std::move(holder_name);
  slot.since = self->clock().now();
  ++st.grants;
  // A holder that dies with the lease would strand the connection forever.
  if (!already_monitored && holder)
    self->monitor(holder);
  return connection_lease{slot.lease_id, slot.connection};
}

// A free slot whose connection is (re)opened, or null.
broker_slot* free_slot(broker_actor* self) {
  for (auto& slot : self->state.slots)
    if (!slot.leased && ensure_open(self, slot))
      return &slot;
  return nullptr;
}

// After `free_slot` found nothing: true when a slot was free but could not be
// reopened, i.e. the database is unreachable rather than the pool busy.
bool unreachable(const broker_state& st) {
  return std::any_of(st.slots.begin(), st.slots.end(),
                     [](const broker_slot& s) { return !s.leased; });
}

caf::error unreachable_error(const broker_state& st) {
  return make_error(errc::connect_failed,
                    "the database is unreachable: " + st.last_connect_error);
}

// The waiter served next: the highest weight, then the earliest arrival.
std::vector<broker_waiter>::iterator next_waiter(std::vector<broker_waiter>& ws) {
  return std::min_element(ws.begin(), ws.end(), [](const broker_waiter& a, const broker_waiter& b) {
    return a.weight != b.weight ? a.weight > b.weight : a.seq < b.seq;
  });
}

void serve_waiters(broker_actor* self) {
  auto& st = self->state;
  while (!st.waiters.empty()) {
    auto slot = free_slot(self);
    if (slot == nullptr) {
      if (unreachable(st)) {
        for (auto& w : st.waiters)
          if (w.promise.pending())
            w.promise.deliver(unreachable_error(st));
        st.waiters.clear();
      }
      return;
    }
    auto w = next_waiter(st.waiters);
    auto waiter = std::move(*w);
    st.waiters.erase(w);
    if (!waiter.promise.pending())
      continue;
    waiter.promise.deliver(grant(self, *slot, waiter.holder, std::move(waiter.holder_name)));
  }
}

broker_status status_of(broker_actor* self) {
  auto& st = self->state;
  broker_status out;
  out.size = static_cast<std::uint32_t>(st.slots.size());
  out.waiting = static_cast<std::uint32_t>(st.waiters.size());
  out.grants = st.grants;
  out.timeouts = st.timeouts;
  out.reconnects = st.reconnects;
  out.reclaimed = st.reclaimed;
  out.peak_leased = st.peak_leased;
  out.closing = st.closing;
  auto now = self->clock().now();
  for (auto& slot : st.slots) {
    if (!slot.leased)
      continue;
    ++out.leased;
    out.leases.push_back(lease_info{slot.lease_id, slot.holder ? slot.holder.id() : 0,
                                    slot.holder_name,
                                    std::chrono::duration_cast<caf::timespan>(now - slot.since)});
  }
  out.saturation = out.size == 0 ? 1.0 : static_cast<double>(out.leased) / out.size;
  return out;
}

} // namespace

caf::expected<std::vector<shared_connection>> open_connections(const broker_options& opts) {
  std::vector<shared_connection> out;
  out.reserve(opts.size);
  for (std::size_t i = 0; i < opts.size; ++i) {
    auto conn = open_one(opts.database_url);
    if (!conn)
      return std::move(conn.error());
    out.push_back(std::move(*conn));
  }
  return out;
}

caf::behavior broker(broker_actor* self, broker_options opts,
                     std::vector<shared_connection> connections) {
  auto& st = self->state;
  st.options = std::move(opts);
  for (auto& conn : connections) {
    broker_slot slot;
    slot.connection = std::move(conn);
    st.slots.push_back(std::move(slot));
  }
  self->set_down_handler([=](caf::down_msg& dm) {
    bool reclaimed = false;
    for (auto& slot : self->state.slots) {
      if (slot.leased && slot.holder == dm.source) {
        // The holder may have died inside a transaction: start the next
        // holder on a fresh session rather than trust the old one.
        if (slot.connection)
          slot.connection->disconnect();
        release(self, slot);
        ++self->state.reclaimed;
        reclaimed = true;
      }
    }
    if (reclaimed && !self->state.closing)
      serve_waiters(self);
  });
  return {
    [=](const lease_request& req) -> caf::result<connection_lease> {
      auto& st = self->state;
      if (st.closing)
        return make_error(errc::broker_closed, "the broker is shutting down");
      auto holder = caf::actor_cast<caf::actor_addr>(self->current_sender());
      if (st.waiters.empty()) {
        if (auto slot = free_slot(self))
          return grant(self, *slot, holder, req.holder);
        if (unreachable(st))
          return unreachable_error(st);
      }
      auto seq = st.next_seq++;
      auto rp = self->make_response_promise();
      st.waiters.push_back(broker_waiter{seq, req.weight, rp, holder, req.holder});
      self->delayed_send(self, req.timeout, lease_timeout_atom::value, seq);
      // A heavier waiter may have arrived while a slot was free but reserved
      // for an earlier lighter one; serving now keeps the order consistent.
      serve_waiters(self);
      return caf::delegated<connection_lease>{};
    },
    [=](lease_timeout_atom, std::uint64_t seq) {
      auto& ws = self->state.waiters;
      auto i = std::find_if(ws.begin(), ws.end(),
                            [=](const broker_waiter& w) { return w.seq == seq; });
      if (i == ws.end())
        return; // served before its deadline
      i->promise.deliver(make_error(errc::lease_timeout, "no database connection became free "
                                                          "before the lease timeout"));
      ws.erase(i);
      ++self->state.timeouts;
    },
    [=](const lease_return& ret) {
      auto& slots = self->state.slots;
      auto i = std::find_if(slots.begin(), slots.end(), [&](const broker_slot& s) {
        return s.leased && s.lease_id == ret.id;
      });
      if (i == slots.end())
        return; // reclaimed already, or a duplicate return
      if (ret.broken && i->connection)
        i->connection->disconnect();
      release(self, *i);
      if (self->state.closing) {
        i->connection.reset();
        return;
      }
      serve_waiters(self);
    },
    [=](status_atom) { return status_of(self); },
    [=](close_atom) {
      auto& st = self->state;
      st.closing = true;
      for (auto& w : st.waiters)
        w.promise.deliver(make_error(errc::broker_closed, "the broker is shutting down"));
      st.waiters.clear();
      auto final_status = status_of(self);
      for (auto& slot : st.slots)
        slot.connection.reset(); // closes every connection not leased out
      self->quit();
      return final_status;
    },
  };
}

caf::expected<caf::actor> spawn_broker(caf::actor_system& sys, broker_options opts,
                                       bool detached) {
  auto conns = open_connections(opts);
  if (!conns)
    return std::move(conns.error());
  if (detached)
    return sys.spawn<caf::detached>(broker, std::move(opts), std::move(*conns));
  return sys.spawn(broker, std::move(opts), std::move(*conns));
}

} // namespace tasker::resources
