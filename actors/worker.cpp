#include "actors/worker.hpp"

#include "messaging/identifier.hpp"
#include "messaging/messages.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <optional>
#include <vector>

namespace tasker::actors {

using messaging::batch_atom;
using messaging::replace_executor;
using messaging::status_atom;
using messaging::stop_request;

namespace {

struct worker_state {
  std::unique_ptr<step_worker> loop;
  bool stopping = false;
  static inline const char* name = "tasker.worker";
};

/// Ends the actor once the current batch is done: messages (stop, exit,
/// down) are only looked at between batches.
caf::behavior worker_actor(caf::stateful_actor<worker_state>* self, worker_options opts,
                           std::shared_ptr<const handler_registry> handlers, std::string id,
                           std::shared_ptr<worker_counters> counters,
                           std::shared_ptr<work_doorbell> doorbell, caf::actor supervisor) {
  self->monitor(supervisor);
  self->set_down_handler([=](caf::down_msg&) { self->quit(); });
  self->set_exit_handler([=](caf::exit_msg& msg) { self->quit(msg.reason); });
  self->state.loop = std::make_unique<step_worker>(opts, handlers, id, counters, doorbell);
  spdlog::info("worker {}: consuming {}", id, self->state.loop->queue());
  self->send(self, batch_atom::value);
  return {
    [=](batch_atom) {
      auto& st = self->state;
      try {
        // A claim that read fewer messages than it asked for emptied the
        // queue: a later send wakes the group, so the actor waits for it
        // rather than reading the queue again at once.
        if (st.loop->run_batch() == 0 || !st.loop->last_claim_full())
          st.loop->wait_for_work();
      } catch (const std::exception& e) {
        // Nothing uncommitted is lost (see worker_loop.hpp); dying lets the
        // supervisor replace this worker with fresh connections.
        ++counters->errors;
        spdlog::error("worker {}: batch failed: {}", id, e.what());
        self->quit(caf::make_error(caf::sec::runtime_error, std::string{e.what()}));
        return;
      }
      self->send(self, batch_atom::value);
    },
    [=](stop_request) { self->quit(); },
  };
}

struct supervisor_state {
  worker_options opts;
  std::string queue;
  std::shared_ptr<const handler_registry> handlers;
  std::shared_ptr<worker_counters> counters = std::make_shared<worker_counters>();
  std::shared_ptr<work_doorbell> doorbell; // one LISTEN connection for the group
  std::vector<caf::actor> workers; // by slot; null while awaiting a restart
  std::uint64_t restarts = 0;
  bool stopping = false;
  caf::error reason;
  static inline const char* name = "tasker.worker_group";
};

caf::behavior supervisor_actor(caf::stateful_actor<supervisor_state>* self, worker_options opts,
                               std::string queue,
                               std::shared_ptr<const handler_registry> handlers) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.queue = std::move(queue);
  st.handlers = std::move(handlers);
  st.workers.resize(std::max<std::size_t>(st.opts.concurrency, 1));
  st.doorbell = std::make_shared<work_doorbell>(st.opts.database_url, st.queue, st.workers.size());
  auto spawn_slot = [self](std::size_t slot) {
    auto& s = self->state;
    auto info = make_worker_info("");
    auto id = s.opts.namespace_name + "-" + info.hostname + "-" + std::to_string(info.pid) + "-"
              + std::to_string(slot);
    s.workers[slot] = self->spawn<caf::detached + caf::monitored>(
      worker_actor, s.opts, s.handlers, id, s.counters, s.doorbell, caf::actor{self});
  };
  auto live = [self] {
    return static_cast<std::size_t>(std::count_if(self->state.workers.begin(),
                                                  self->state.workers.end(),
                                                  [](const caf::actor& a) { return bool{a}; }));
  };
  auto begin_stop = [self, live](caf::error reason) {
    auto& s = self->state;
    if (!s.stopping) {
      s.stopping = true;
      s.reason = std::move(reason);
      spdlog::info("worker group {}: stopping; finishing the steps in flight", s.queue);
      for (auto& w : s.workers)
        if (w)
          self->send(w, stop_request{true});
    }
    if (live() == 0)
      self->quit(s.reason);
  };
  for (std::size_t i = 0; i < st.workers.size(); ++i)
    spawn_slot(i);
  self->set_exit_handler([=](caf::exit_msg& msg) { begin_stop(msg.reason); });
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& s = self->state;
    for (std::size_t i = 0; i < s.workers.size(); ++i) {
      if (!s.workers[i] || s.workers[i].address() != msg.source)
        continue;
      s.workers[i] = nullptr;
      if (s.stopping) {
        if (live() == 0)
          self->quit(s.reason);
      } else {
        spdlog::warn("worker group {}: worker {} died ({}); replacing it in {} s", s.queue, i,
                     caf::to_string(msg.reason), restart_delay.count());
        self->delayed_send(self, restart_delay,
                           replace_executor{i, caf::to_string(msg.reason)});
      }
      return;
    }
  });
  return {
    [=](replace_executor& r) {
      auto& s = self->state;
      if (s.stopping || r.executor >= s.workers.size() || s.workers[r.executor])
        return;
      ++s.restarts;
      spawn_slot(static_cast<std::size_t>(r.executor));
    },
    [=](stop_request) { begin_stop(caf::error{}); },
    [=](status_atom) {
      auto& s = self->state;
      worker_group_status out;
      out.namespace_name = s.opts.namespace_name;
      out.queue = s.queue;
      out.workers = static_cast<std::uint32_t>(live());
      out.claims = s.counters->claims;
      out.steps_run = s.counters->steps_run;
      out.failures = s.counters->failures;
      out.duplicates = s.counters->duplicates;
      out.archived = s.counters->archived;
      out.errors = s.counters->errors;
      out.restarts = s.restarts;
      out.stopping = s.stopping;
      return out;
    },
  };
}

} // namespace

caf::actor spawn_worker_group(caf::actor_system& sys, const worker_options& opts,
                              std::shared_ptr<const handler_registry> handlers) {
  auto queue = namespace_queue_name(opts);
  messaging::validated_identifier("step results queue", opts.step_results_queue);
  if (!handlers)
    throw std::invalid_argument("worker group " + queue + ": no handler registry");
  return sys.spawn(supervisor_actor, opts, std::move(queue), std::move(handlers));
}

} // namespace tasker::actors
