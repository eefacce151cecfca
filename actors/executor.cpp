#include "actors/executor.hpp"

#include "coordinator/backpressure_policy.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>

namespace tasker::actors {

using namespace tasker::messaging;
using coordinator::health_state;

namespace {

using executor_actor = caf::stateful_actor<executor_actor_state>;
using clock_point = caf::actor_clock::time_point;

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

messaging::breaker_state to_wire(coordinator::breaker_state x) {
  switch (x) {
    case coordinator::breaker_state::closed: return messaging::breaker_state::closed;
    case coordinator::breaker_state::open: return messaging::breaker_state::open;
    case coordinator::breaker_state::half_open: return messaging::breaker_state::half_open;
  }
  return messaging::breaker_state::open;
}

caf::timespan as_timespan(caf::actor_clock::duration_type d) {
  return std::chrono::duration_cast<caf::timespan>(d);
}

std::size_t current_batch_size(const executor_actor_state& st) {
  return coordinator::effective_batch_size(st.growth.size(), st.backpressure);
}

caf::timespan current_poll_interval(const executor_actor_state& st) {
  return as_timespan(coordinator::effective_poll_interval(
    std::chrono::duration_cast<coordinator::duration>(st.options.poll_interval), st.backpressure));
}

// Arms the next batch; a newer call makes every older timer a no-op.
void schedule_batch(executor_actor* self, bool now) {
  auto& st = self->state;
  auto gen = ++st.generation;
  if (now)
    self->send(self, batch_atom::value, gen);
  else
    self->delayed_send(self, current_poll_interval(st), batch_atom::value, gen);
}

void ask_for_recycling(executor_actor* self) {
  auto& st = self->state;
  if (st.recycle_requested || st.stopping || !st.context.pool_actor)
    return;
  auto verdict = st.recycle.evaluate(st.batches, st.started_at, self->clock().now());
  if (!verdict.due)
    return;
  st.recycle_requested = true;
  self->send(st.context.pool_actor, recycle_request{self->id(), verdict.reason});
}

void record_batch(executor_actor* self, caf::timespan latency, bool failed, std::size_t items) {
  auto& st = self->state;
  ++st.batches;
  ++st.window_batches;
  st.items += items;
  st.busy += latency;
  st.latency_sum += latency;
  st.max_latency = std::max(st.max_latency, latency);
  st.last_batch_latency = latency;
  auto now = self->clock().now();
  if (failed) {
    ++st.errors;
    ++st.window_errors;
    if (st.options.breaker_enabled)
      st.breaker.record_failure(now);
  } else if (st.options.breaker_enabled) {
    st.breaker.record_success(now);
  }
}

// Whether this batch crashes the executor (see fault_injection): one seeded
// draw per batch that did work, once the executor is old enough.
bool injected_crash_due(executor_actor* self) {
  auto& st = self->state;
  if (!st.fault_rng)
    return false;
  if (self->clock().now() - st.started_at < st.options.faults.min_age)
    return false;
  std::uniform_real_distribution<double> draw{0.0, 1.0};
  return draw(*st.fault_rng) < st.options.faults.batch_failure_rate;
}

// Runs one batch on `lease`, returns the lease, and schedules what comes next.
void run_batch(executor_actor* self, const connection_lease& lease) {
  auto& st = self->state;
  auto max_items = current_batch_size(st);
  auto begin = self->clock().now();
  batch_outcome outcome;
  bool failed = false;
  bool broken = false;
  bool fatal = false;
  try {
    outcome = st.processor->process_batch(*lease.connection, max_items);
    failed = outcome.error.has_value();
  } catch (const fatal_batch_error& e) {
    failed = fatal = true;
    outcome.error = e.what();
  } catch (const pqxx::broken_connection& e) {
    failed = broken = true;
    outcome.error = e.what();
  } catch (const std::exception& e) {
    failed = true;
    outcome.error = e.what();
  }
  if (!failed && outcome.did_work && injected_crash_due(self)) {
    // The lease stays out on purpose: the broker must reclaim it from a dead holder.
    spdlog::warn("fault injection: executor {} of pool {} crashes after batch {} "
                 "(TASKER_FAULT_BATCH_FAILURE_RATE)",
                 self->id(), st.context.pool, st.batches + 1);
    throw std::runtime_error("injected batch failure (TASKER_FAULT_BATCH_FAILURE_RATE)");
  }
  auto latency = as_timespan(self->clock().now() - begin);
  self->send(st.context.broker, lease_return{lease.id, broken});
  record_batch(self, latency, failed, outcome.items);
  if (fatal) {
    self->quit(make_error(executor_exit::fatal));
    return;
  }
  if (st.stopping) {
    self->quit(make_error(executor_exit::drained));
    return;
  }
  ask_for_recycling(self);
  st.growth.record(outcome.items, max_items, failed, st.backpressure < 1.0);
  bool full = !failed && outcome.items >= max_items;
  bool again = full || st.wake_pending;
  st.wake_pending = false;
  schedule_batch(self, again);
}

void start_batch(executor_actor* self) {
  auto& st = self->state;
  // Paused: the loop ends here; resuming schedules a batch again.
  if (st.stopping || st.lease_pending || st.paused)
    return;
  auto now = self->clock().now();
  // An open breaker touches nothing: no lease, no query, until its timeout
  // lets exactly one probe through.
  if (st.options.breaker_enabled && !st.breaker.allow_request(now)) {
    schedule_batch(self, false);
    return;
  }
  st.lease_pending = true;
  lease_request req{st.context.resource_weight, st.options.lease_timeout, st.context.pool};
  self->request(st.context.broker, caf::infinite, std::move(req))
    .then(
      [=](const connection_lease& lease) {
        self->state.lease_pending = false;
        if (self->state.stopping) {
          self->send(self->state.context.broker, lease_return{lease.id, false});
          self->quit(make_error(executor_exit::drained));
          return;
        }
        run_batch(self, lease);
      },
      [=](const caf::error& err) {
        auto& st = self->state;
        st.lease_pending = false;
        if (st.stopping) {
          self->quit(make_error(executor_exit::drained));
          return;
        }
        // The broker cannot reach the database: a failed batch, which feeds
        // the breaker and the health evaluation like any other.
        if (err.category() == caf::atom("tasker")
            && err.code() == static_cast<std::uint8_t>(errc::connect_failed)) {
          record_batch(self, caf::timespan{0}, true, 0);
          schedule_batch(self, false);
          return;
        }
        // No connection within the lease timeout: the database is saturated,
        // not failing, so the breaker is not fed; backpressure handles it.
        if (st.options.breaker_enabled && st.breaker.state() == coordinator::breaker_state::half_open)
          st.breaker.record_failure(self->clock().now()); // frees the probe slot
        schedule_batch(self, false);
      });
}

// Until the next heartbeat, on the interval's boundaries of the clock (see
// coordinator::until_next_beat).
caf::timespan next_beat(executor_actor* self) {
  auto interval = std::chrono::duration_cast<coordinator::duration>(self->state.options.heartbeat_interval);
  return std::chrono::duration_cast<caf::timespan>(
    coordinator::until_next_beat(self->clock().now(), interval));
}

void report(executor_actor* self) {
  auto& st = self->state;
  auto now = self->clock().now();
  coordinator::health_observation seen;
  seen.now = now;
  seen.started_at = st.started_at;
  seen.last_heartbeat = now;
  seen.items = st.window_batches;
  seen.errors = st.window_errors;
  seen.max_batch_latency = std::chrono::duration_cast<coordinator::duration>(st.max_latency);
  seen.stopping = st.stopping;
  // Unhealthy is final only for the coordinator, which replaces stale
  // executors; a self-evaluation recovers when the error rate falls.
  auto previous = st.state == health_state::unhealthy ? health_state::degraded : st.state;
  auto verdict = st.health.evaluate(previous, seen);
  st.state = verdict.state;
  st.state_reason = verdict.state == health_state::healthy ? std::string{} : verdict.reason;
  auto breaker = to_wire(st.breaker.state());
  auto state = to_wire(st.state);
  heartbeat m;
  m.pool = st.context.pool;
  m.executor = self->id();
  m.reason = st.state_reason;
  m.items = st.items;
  m.errors = st.errors;
  m.batches = st.batches;
  m.busy = st.busy;
  m.wall = as_timespan(now - st.last_report);
  m.last_batch_latency = st.last_batch_latency;
  m.mean_batch_latency =
    st.window_batches == 0 ? caf::timespan{0}
                           : caf::timespan{st.latency_sum.count()
                                           / static_cast<caf::timespan::rep>(st.window_batches)};
  m.breaker = breaker;
  m.state = state;
  m.backpressure = st.backpressure;
  m.paused = st.paused;
  // Counted by the executor itself, the mailbox's only safe reader.
  m.mailbox = self->mailbox().size();
  self->send(st.context.coordinator, std::move(m));
  st.last_report = now;
  st.busy = caf::timespan{0};
  st.latency_sum = caf::timespan{0};
  st.max_latency = caf::timespan{0};
  st.window_batches = 0;
  st.window_errors = 0;
}

} // namespace

caf::behavior executor(executor_actor* self, executor_options options,
                       coordinator::spawn_context context,
                       std::shared_ptr<batch_processor> processor) {
  auto& st = self->state;
  st.breaker = coordinator::circuit_breaker{options.breaker};
  st.health = coordinator::health_policy{options.health};
  st.recycle = coordinator::recycle_policy{options.recycle};
  st.growth = coordinator::batch_growth{options.batch_size, options.max_batch_size};
  st.options = std::move(options);
  st.context = std::move(context);
  st.processor = std::move(processor);
  st.backpressure = coordinator::clamp_backpressure_factor(st.context.backpressure);
  st.started_at = st.last_report = self->clock().now();
  if (st.options.faults.enabled())
    st.fault_rng.emplace(st.options.faults.seed ^ (self->id() * 0x9E3779B97F4A7C15ULL));
  st.paused = st.context.paused;
  if (st.context.listener) {
    auto channels = st.processor->wake_channels();
    if (!channels.empty())
      self->send(st.context.listener,
                 subscribe_wake{std::move(channels), st.processor->name()});
  }
  schedule_batch(self, true);
  if (st.context.coordinator)
    self->delayed_send(self, next_beat(self), beat_atom::value);
  return {
    [=](batch_atom, std::uint64_t gen) {
      if (gen == self->state.generation)
        start_batch(self);
    },
    [=](beat_atom) {
      report(self);
      ask_for_recycling(self);
      self->delayed_send(self, next_beat(self), beat_atom::value);
    },
    [=](const wake&) {
      auto& st = self->state;
      if (st.stopping || st.paused)
        return;
      if (st.lease_pending)
        st.wake_pending = true; // run again right after the batch in flight
      else
        schedule_batch(self, true);
    },
    [=](const backpressure& bp) {
      self->state.backpressure = coordinator::clamp_backpressure_factor(bp.factor);
    },
    [=](const pause_batches& req) {
      auto& st = self->state;
      if (st.paused == req.paused || st.stopping)
        return;
      st.paused = req.paused;
      if (!st.paused && !st.lease_pending)
        schedule_batch(self, true);
    },
    [=](const stop_request& req) {
      auto& st = self->state;
      st.stopping = true;
      st.state = health_state::stopping;
      // With a lease request outstanding, the lease is returned unused when
      // it arrives; otherwise nothing is in flight.
      if (!req.graceful)
        self->quit(caf::exit_reason::user_shutdown);
      else if (!st.lease_pending)
        self->quit(make_error(executor_exit::drained));
    },
    [=](status_atom) {
      auto& st = self->state;
      executor_status out;
      out.id = self->id();
      out.pool = st.context.pool;
      out.state = to_wire(st.state);
      out.breaker = to_wire(st.breaker.state());
      out.items = st.items;
      out.errors = st.errors;
      out.batches = st.batches;
      out.batch_size = static_cast<std::uint32_t>(current_batch_size(st));
      out.poll_interval = current_poll_interval(st);
      out.backpressure = st.backpressure;
      out.paused = st.paused;
      return out;
    },
  };
}

fault_injection fault_injection_from(const char* rate, const char* seed) {
  fault_injection out;
  if (rate != nullptr && *rate != '\0') {
    errno = 0;
    char* end = nullptr;
    double value = std::strtod(rate, &end);
    if (errno != 0 || end == rate || *end != '\0' || !(value >= 0.0 && value <= 1.0))
      throw std::invalid_argument(std::string{"TASKER_FAULT_BATCH_FAILURE_RATE must be a "
                                              "probability between 0 and 1, got \""}
                                  + rate + "\"");
    out.batch_failure_rate = value;
  }
  if (seed != nullptr && *seed != '\0') {
    errno = 0;
    char* end = nullptr;
    auto value = std::strtoull(seed, &end, 10);
    if (errno != 0 || end == seed || *end != '\0' || *seed == '-')
      throw std::invalid_argument(std::string{"TASKER_FAULT_SEED must be a non-negative "
                                              "integer, got \""}
                                  + seed + "\"");
    out.seed = value;
  }
  return out;
}

coordinator::executor_factory make_executor_factory(executor_options options,
                                                    processor_factory make_processor) {
  return [options = std::move(options), make_processor = std::move(make_processor)](
           caf::actor_system& sys, const coordinator::spawn_context& ctx) -> caf::actor {
    auto processor = make_processor();
    if (ctx.detached)
      return sys.spawn<caf::detached>(executor, options, ctx, std::move(processor));
    return sys.spawn(executor, options, ctx, std::move(processor));
  };
}

} // namespace tasker::actors
