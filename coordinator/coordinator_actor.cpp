#include "coordinator/coordinator_actor.hpp"

#include "coordinator/detail/coordinator_internals.hpp"

#include <spdlog/spdlog.h>

#include <caf/all.hpp>

#include <algorithm>
#include <numeric>

namespace tasker::coordinator {

using namespace tasker::messaging;

namespace detail {

caf::timespan as_timespan(caf::actor_clock::duration_type d) {
  return std::chrono::duration_cast<caf::timespan>(d);
}

health_state from_wire(messaging::executor_state x) {
  switch (x) {
    case messaging::executor_state::starting: return health_state::starting;
    case messaging::executor_state::healthy: return health_state::healthy;
    case messaging::executor_state::degraded: return health_state::degraded;
    case messaging::executor_state::unhealthy: return health_state::unhealthy;
    case messaging::executor_state::stopping: return health_state::stopping;
  }
  return health_state::unhealthy;
}

messaging::executor_state to_wire(health_state x) {
  switch (x) {
    case health_state::starting: return messaging::executor_state::starting;
    case health_state::healthy: return messaging::executor_state::healthy;
    case health_state::degraded: return messaging::executor_state::degraded;
    case health_state::unhealthy: return messaging::executor_state::unhealthy;
    case health_state::stopping: return messaging::executor_state::stopping;
  }
  return messaging::executor_state::unhealthy;
}

void log_event(coordinator_ptr self, std::string kind, std::string pool, std::string detail) {
  auto& st = self->state;
  // The same event in the node's log, e.g. "coordinator: scale_up task_claimer: +1".
  spdlog::info("coordinator: {}{}{}: {}", kind, pool.empty() ? "" : " ", pool, detail);
  st.events.push_back(runtime_event{as_timespan(self->clock().now() - st.started_at),
                                    std::move(kind), std::move(pool), std::move(detail)});
  while (st.events.size() > st.options.event_log_capacity)
    st.events.pop_front();
}

// -- health tick --------------------------------------------------------------

void apply_saturation(coordinator_ptr self, const broker_status& bs) {
  auto& st = self->state;
  st.broker_status = bs;
  auto update = st.backpressure.update(bs.saturation);
  if (!update.changed)
    return;
  for (auto& [name, pool] : st.pools)
    self->send(pool.handle, backpressure{update.factor});
  log_event(self, update.engaged ? "backpressure" : "backpressure_released", "",
            "saturation " + std::to_string(bs.saturation) + " -> factor "
              + std::to_string(update.factor));
}

void health_tick(coordinator_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  for (auto& [id, rec] : st.executors) {
    if (rec.replacement_requested)
      continue;
    health_observation seen;
    seen.now = now;
    seen.started_at = rec.started_at;
    seen.last_heartbeat = rec.last_heartbeat;
    // Only staleness is judged here: the executor evaluates its own error
    // rate and reports it in its heartbeat.
    auto previous = rec.last_heartbeat ? health_state::healthy : health_state::starting;
    auto verdict = st.health.evaluate(previous, seen);
    if (verdict.state != health_state::unhealthy)
      continue;
    rec.state = health_state::unhealthy;
    rec.reason = verdict.reason;
    rec.replacement_requested = true;
    auto pool = st.pools.find(rec.pool);
    if (pool != st.pools.end())
      self->send(pool->second.handle, replace_executor{id, verdict.reason});
    log_event(self, "replace", rec.pool, "executor " + std::to_string(id) + ": " + verdict.reason);
  }
  if (st.broker) {
    self->request(st.broker, st.options.health_interval, status_atom::value)
      .then([=](const broker_status& bs) { apply_saturation(self, bs); },
            [=](const caf::error&) {
              // A broker too busy to answer within a tick is itself saturated.
              auto bs = self->state.broker_status;
              bs.saturation = 1.0;
              apply_saturation(self, bs);
            });
  }
}

// -- scaling tick -------------------------------------------------------------

void scaling_tick(coordinator_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto elapsed = to_seconds(now - st.last_scaling_tick);
  st.last_scaling_tick = now;
  std::vector<scale_request> ups;
  std::optional<double> host_cpu;
  if (st.options.auto_scaling && st.options.host_cpu)
    host_cpu = st.options.host_cpu();
  for (auto& [name, pool] : st.pools) {
    pool.window.prune(now);
    auto throughput = elapsed > 0 ? static_cast<double>(pool.items - pool.items_at_last_tick)
                                      / elapsed
                                  : 0.0;
    pool.items_at_last_tick = pool.items;
    if (pool.failed || pool.manual || !st.options.auto_scaling)
      continue;
    pool_load load;
    load.current = pool.target;
    load.min = pool.spec.options.min;
    load.max = pool.spec.options.max;
    load.utilization = pool.window.utilization(now);
    load.queue_depth = static_cast<std::size_t>(std::max<std::int64_t>(pool.queue_depth, 0));
    load.throughput_per_second = throughput;
    load.host_cpu = host_cpu;
    auto decision = st.scaling.evaluate(name, load, now);
    if (decision.held_by_cpu && !pool.cpu_held)
      log_event(self, "scale_up_held", name, decision.reason);
    pool.cpu_held = decision.held_by_cpu;
    if (decision.action == scaling_action::up) {
      ups.push_back(scale_request{name, pool.target, decision.count,
                                  pool.spec.options.resource_weight});
    } else if (decision.action == scaling_action::down) {
      self->send(pool.handle, scale_down{static_cast<std::uint32_t>(decision.count)});
      pool.target -= std::min(pool.target, decision.count);
      st.budget.set_current(name, pool.target);
      ++pool.scale_downs;
      log_event(self, "scale_down", name, decision.reason);
    }
  }
  if (ups.empty())
    return;
  for (auto& grant : st.budget.allocate(ups)) {
    auto& pool = st.pools.at(grant.pool);
    if (grant.granted > 0) {
      self->send(pool.handle, scale_up{static_cast<std::uint32_t>(grant.granted)});
      pool.target += grant.granted;
      ++pool.scale_ups;
      log_event(self, "scale_up", grant.pool, "+" + std::to_string(grant.granted));
    }
    if (grant.refused()) {
      ++pool.refused_scale_ups;
      log_event(self, "scale_up_refused", grant.pool,
                std::to_string(grant.requested - grant.granted)
                  + " executor(s) beyond the connection budget");
    }
  }
}

// -- snapshot -----------------------------------------------------------------

coordinator_snapshot snapshot_of(coordinator_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  coordinator_snapshot out;
  out.backpressure = st.backpressure.factor();
  out.broker = st.broker_status;
  out.events.assign(st.events.begin(), st.events.end());
  out.shutting_down = st.shutting_down;
  out.uptime = as_timespan(now - st.started_at);
  out.backpressure_events = st.backpressure.engagements();
  out.executor_limit = static_cast<std::uint32_t>(st.budget.total_limit());
  out.executors_allocated = static_cast<std::uint32_t>(st.budget.allocated());
  out.constraint_violations = st.budget.constraint_violations();
  time_totals system;
  for (auto& [name, pool] : st.pools) {
    pool_snapshot ps;
    ps.name = name;
    ps.min = static_cast<std::uint32_t>(pool.spec.options.min);
    ps.max = static_cast<std::uint32_t>(pool.spec.options.max);
    ps.failed = pool.failed;
    ps.utilization = pool.window.utilization(now);
    ps.queue_depth = pool.queue_depth;
    ps.items = pool.items;
    ps.errors = pool.errors;
    ps.scale_ups = pool.scale_ups;
    ps.scale_downs = pool.scale_downs;
    ps.refused_scale_ups = pool.refused_scale_ups;
    ps.target = static_cast<std::uint32_t>(pool.target);
    ps.paused = pool.paused;
    ps.manual = pool.manual;
    auto totals = pool.window.totals(now);
    system.busy_ns += totals.busy_ns;
    system.wall_ns += totals.wall_ns;
    out.items += pool.items;
    out.errors += pool.errors;
    out.pools.push_back(std::move(ps));
  }
  for (auto& [id, rec] : st.executors) {
    executor_snapshot es;
    es.id = id;
    es.pool = rec.pool;
    es.state = to_wire(rec.state);
    es.breaker = rec.breaker;
    es.since_heartbeat = as_timespan(now - rec.last_heartbeat.value_or(rec.started_at));
    es.items = rec.items;
    es.errors = rec.errors;
    es.batches = rec.batches;
    es.mean_batch_latency = rec.mean_batch_latency;
    es.backpressure = rec.backpressure;
    es.paused = rec.paused;
    es.mailbox = rec.mailbox;
    auto pool = st.pools.find(rec.pool);
    if (pool != st.pools.end()) {
      ++out.pools[static_cast<std::size_t>(std::distance(st.pools.begin(), pool))].executors;
      es.utilization = pool->second.window.executor_utilization(id, now);
    }
    out.executors.push_back(std::move(es));
  }
  // Executors in the order they were spawned (their records are hashed).
  std::sort(out.executors.begin(), out.executors.end(),
            [](const executor_snapshot& a, const executor_snapshot& b) { return a.id < b.id; });
  out.utilization = system.ratio();
  return out;
}

// -- shutdown -----------------------------------------------------------------

void finish_shutdown(coordinator_ptr self) {
  auto& st = self->state;
  if (st.shutdown_promise.pending())
    st.shutdown_promise.deliver(snapshot_of(self));
  self->quit();
}

void close_broker(coordinator_ptr self) {
  auto& st = self->state;
  log_event(self, "pools_drained", "", "every executor stopped");
  if (!st.broker) {
    finish_shutdown(self);
    return;
  }
  self->request(st.broker, st.options.shutdown_timeout, close_atom::value)
    .then(
      [=](const broker_status& final_status) {
        self->state.broker_status = final_status;
        log_event(self, "broker_closed", "",
                  std::to_string(final_status.leased) + " lease(s) still out; at most "
                    + std::to_string(final_status.peak_leased) + " of "
                    + std::to_string(final_status.size) + " connections leased at once");
        finish_shutdown(self);
      },
      [=](const caf::error& err) {
        log_event(self, "broker_close_failed", "", self->system().render(err));
        finish_shutdown(self);
      });
}

void pool_stopped(coordinator_ptr self) {
  if (--self->state.pools_stopping == 0)
    close_broker(self);
}

} // namespace detail

using namespace detail;

caf::behavior coordinator_actor(coordinator_ptr self, coordinator_options options,
                                caf::actor broker, caf::actor listener) {
  auto& st = self->state;
  st.scaling = scaling_policy{options.scaling};
  st.health = health_policy{options.health};
  st.backpressure = backpressure_policy{options.backpressure};
  auto budget = options.executor_budget;
  if (budget == 0)
    for (auto& spec : options.pools)
      budget += spec.options.max;
  st.budget = budget_allocator{budget};
  st.options = std::move(options);
  st.broker = std::move(broker);
  st.listener = std::move(listener);
  st.started_at = st.last_scaling_tick = self->clock().now();
  auto me = caf::actor_cast<caf::actor>(self);
  for (auto& spec : st.options.pools) {
    auto name = spec.options.name;
    auto hdl = self->spawn(pool, spec.options, pool_peers{me, st.broker, st.listener}, spec.factory);
    self->monitor(hdl);
    auto window = utilization_window{
      std::chrono::duration_cast<coordinator::duration>(st.options.utilization_window)};
    st.pools.emplace(name, pool_record{spec, hdl, window, spec.options.min});
    st.budget.set_current(name, spec.options.min);
  }
  self->set_down_handler([=](caf::down_msg& dm) {
    for (auto& [name, pool] : self->state.pools) {
      if (pool.handle.address() != dm.source || self->state.shutting_down)
        continue;
      pool.failed = true;
      log_event(self, "pool_down", name, self->system().render(dm.reason));
    }
  });
  self->delayed_send(self, st.options.health_interval, health_tick_atom::value);
  self->delayed_send(self, st.options.scaling_interval, scale_tick_atom::value);
  return {
    [=](const heartbeat& m) {
      auto& st = self->state;
      auto rec = st.executors.find(m.executor);
      if (rec == st.executors.end())
        return; // gone or retiring
      auto& r = rec->second;
      auto now = self->clock().now();
      if (!r.replacement_requested) { // a condemned executor stays condemned
        r.last_heartbeat = now;
        r.state = from_wire(m.state);
        r.reason = m.reason;
      }
      auto pool = st.pools.find(m.pool);
      if (pool == st.pools.end())
        return;
      pool->second.items += m.items >= r.items ? m.items - r.items : 0;
      pool->second.errors += m.errors >= r.errors ? m.errors - r.errors : 0;
      r.items = m.items;
      r.errors = m.errors;
      r.batches = m.batches;
      r.breaker = m.breaker;
      r.mean_batch_latency = m.mean_batch_latency;
      r.backpressure = m.backpressure;
      r.paused = m.paused;
      r.mailbox = m.mailbox;
      pool->second.window.record(m.executor,
                                 static_cast<std::uint64_t>(m.busy.count()),
                                 static_cast<std::uint64_t>(m.wall.count()), now);
    },
    [=](const executor_joined& j) {
      executor_record rec;
      rec.pool = j.pool;
      rec.started_at = self->clock().now();
      self->state.executors.emplace(j.executor, std::move(rec));
    },
    [=](const executor_left& l) {
      self->state.executors.erase(l.executor);
      auto pool = self->state.pools.find(l.pool);
      if (pool != self->state.pools.end())
        pool->second.window.forget(l.executor);
    },
    [=](const pool_failed& pf) {
      auto pool = self->state.pools.find(pf.pool);
      if (pool == self->state.pools.end())
        return;
      pool->second.failed = true;
      pool->second.target = 0;
      self->state.budget.set_current(pf.pool, 0);
      log_event(self, "pool_failed", pf.pool,
                std::to_string(pf.restarts) + " restarts: " + pf.reason);
    },
    [=](const queue_depths& qd) {
      for (auto& [name, pool] : self->state.pools)
        for (auto& q : qd.queues)
          if (!pool.spec.queue.empty() && q.queue == pool.spec.queue)
            pool.queue_depth = q.depth;
    },
    [=](health_tick_atom) {
      if (!self->state.ticking)
        return;
      health_tick(self);
      self->delayed_send(self, self->state.options.health_interval, health_tick_atom::value);
    },
    [=](scale_tick_atom) {
      if (!self->state.ticking)
        return;
      scaling_tick(self);
      self->delayed_send(self, self->state.options.scaling_interval, scale_tick_atom::value);
    },
    [=](status_atom) { return snapshot_of(self); },
    [=](const pool_scale& req) { return manual_scale(self, req); },
    [=](const pool_pause& req) { return pause_pool(self, req); },
    [=](shutdown_atom) -> caf::result<coordinator_snapshot> {
      auto& st = self->state;
      if (st.shutting_down)
        return make_error(errc::broker_closed, "shutdown already in progress");
      st.ticking = false;
      st.shutting_down = true;
      st.shutdown_promise = self->make_response_promise();
      log_event(self, "shutdown", "", "draining pools");
      st.pools_stopping = st.pools.size();
      if (st.pools_stopping == 0) {
        close_broker(self);
        return caf::delegated<coordinator_snapshot>{};
      }
      for (auto& [name, pool] : st.pools) {
        auto hdl = pool.handle;
        self->request(hdl, st.options.shutdown_timeout, stop_request{true})
          .then([=](const pool_status&) { pool_stopped(self); },
                [=](const caf::error&) {
                  // Past the deadline a pool is killed; its linked executors
                  // die with it and the broker reclaims their leases.
                  self->send_exit(hdl, caf::exit_reason::kill);
                  pool_stopped(self);
                });
      }
      return caf::delegated<coordinator_snapshot>{};
    },
  };
}

} // namespace tasker::coordinator
