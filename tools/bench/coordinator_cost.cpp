#include "tools/bench/coordinator_cost.hpp"

#include "coordinator/coordinator_actor.hpp"
#include "coordinator/health_policy.hpp"
#include "messaging/messages.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <vector>

namespace tasker::bench {

using namespace std::chrono_literals;
using namespace tasker::messaging;

namespace {

constexpr const char* pool_names[] = {"task_request_processor", "task_claimer", "step_enqueuer",
                                      "step_result_processor", "task_finalizer"};

struct beat_state {
  coordinator::spawn_context ctx;
  std::uint64_t beats = 0;
  caf::actor_clock::time_point last{};
  static inline const char* name = "bench.heartbeat_executor";
};

// Until the next heartbeat, as executors time theirs: on the second's
// boundaries of the clock (coordinator::until_next_beat).
caf::timespan next_beat(caf::stateful_actor<beat_state>* self) {
  return std::chrono::duration_cast<caf::timespan>(
    coordinator::until_next_beat(self->clock().now(), std::chrono::seconds{1}));
}

/// An executor that does nothing but heartbeat (with its counters) at 1 Hz,
/// timed as executors time theirs.
caf::behavior beat_executor(caf::stateful_actor<beat_state>* self, coordinator::spawn_context ctx) {
  self->state.ctx = std::move(ctx);
  self->state.last = self->clock().now();
  self->set_default_handler(caf::drop);
  self->delayed_send(self, next_beat(self), beat_atom::value);
  return {
    [=](beat_atom) {
      auto& st = self->state;
      auto now = self->clock().now();
      ++st.beats;
      heartbeat m;
      m.pool = st.ctx.pool;
      m.executor = self->id();
      m.items = st.beats;
      m.batches = st.beats;
      m.wall = std::chrono::duration_cast<caf::timespan>(now - st.last);
      m.busy = m.wall / 10;
      m.state = executor_state::healthy;
      self->send(st.ctx.coordinator, std::move(m));
      st.last = now;
      self->delayed_send(self, next_beat(self), beat_atom::value);
    },
    [=](const stop_request&) { self->quit(); },
  };
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

/// CPU % of one core used by this process over `seconds`, after `warmup`.
double measure(double seconds, double warmup) {
  std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
  auto c0 = cpu_seconds();
  auto w0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  auto c1 = cpu_seconds();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  return (c1 - c0) / wall * 100.0;
}

// The ids of this process's threads.
std::set<long> thread_ids() {
  std::set<long> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task"))
    out.insert(std::stol(e.path().filename().string()));
  return out;
}

// Nanoseconds thread `tid` of this process has spent on a CPU (the first
// field of its schedstat).
double thread_cpu_ns(long tid) {
  std::ifstream in{"/proc/self/task/" + std::to_string(tid) + "/schedstat"};
  double ns = 0;
  if (!(in >> ns))
    throw std::runtime_error("cannot read the CPU time of thread " + std::to_string(tid));
  return ns;
}

struct bench_config : caf::actor_system_config {
  bench_config() { tasker::messaging::add_message_types(*this); }
};

double baseline_phase(std::size_t executors, double seconds, double warmup) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  auto sink = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    self->set_default_handler(caf::drop);
    return {[](const heartbeat&) {}};
  });
  std::vector<caf::actor> members;
  members.reserve(executors);
  for (std::size_t i = 0; i < executors; ++i) {
    coordinator::spawn_context ctx;
    ctx.pool = pool_names[i % 5];
    ctx.coordinator = sink;
    ctx.detached = false;
    members.push_back(sys.spawn(beat_executor, ctx));
  }
  auto pct = measure(seconds, warmup);
  for (auto& m : members)
    caf::anon_send_exit(m, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  return pct;
}

nlohmann::json coordinator_phase(std::size_t executors, double seconds, double warmup) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  coordinator::coordinator_options opts;
  for (std::size_t p = 0; p < 5; ++p) {
    coordinator::pool_spec spec;
    spec.options.name = pool_names[p];
    spec.options.min = executors / 5 + (p < executors % 5 ? 1 : 0);
    spec.options.max = spec.options.min;
    spec.options.detached = false;
    spec.factory = [](caf::actor_system& s, const coordinator::spawn_context& ctx) {
      return s.spawn(beat_executor, ctx);
    };
    opts.pools.push_back(std::move(spec));
  }
  opts.executor_budget = executors;
  // The coordinator runs detached here, so the one thread its spawn starts
  // holds all of its work: its mailbox, handlers and timers, and the wake-ups
  // of that thread as the heartbeats arrive. (Its pools run on the scheduler
  // with the executors; they are idle while nothing is scaled or replaced.)
  // On the scheduler, as in the node, its share of the scheduler's threads
  // cannot be told apart from the executors'.
  auto threads_before = thread_ids();
  auto coord =
    sys.spawn<caf::detached>(coordinator::coordinator_actor, opts, caf::actor{}, caf::actor{});
  std::vector<long> started;
  for (auto tid : thread_ids())
    if (threads_before.count(tid) == 0)
      started.push_back(tid);
  if (started.size() != 1)
    throw std::runtime_error("the coordinator's spawn started " + std::to_string(started.size())
                             + " threads, not one");
  std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
  auto own0 = thread_cpu_ns(started.front());
  auto w0 = std::chrono::steady_clock::now();
  auto pct = measure(seconds, 0.0);
  auto own1 = thread_cpu_ns(started.front());
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  nlohmann::json out{{"cpu_percent_of_one_core", pct},
                     {"coordinator_thread_cpu_percent", (own1 - own0) / 1e9 / wall * 100.0}};
  caf::scoped_actor self{sys};
  self->request(coord, 60s, status_atom::value)
    .receive(
      [&](const coordinator_snapshot& snap) {
        std::size_t healthy = 0;
        for (auto& e : snap.executors)
          healthy += e.state == executor_state::healthy ? 1 : 0;
        out["executors_tracked"] = snap.executors.size();
        out["executors_healthy"] = healthy;
      },
      [&](const caf::error& err) { out["status_error"] = sys.render(err); });
  self->request(coord, 120s, shutdown_atom::value)
    .receive([](const coordinator_snapshot&) {},
             [&](const caf::error& err) { out["shutdown_error"] = sys.render(err); });
  return out;
}

} // namespace

nlohmann::json run_coordinator_cost(std::size_t executors, double seconds, double warmup,
                                    std::size_t rounds) {
  rounds = std::max<std::size_t>(rounds, 1);
  // Whole-process CPU of 10,000 actors varies by a few percent of a core from
  // one window to the next, as much as the coordinator costs: the phases
  // alternate over several rounds and the median difference is reported.
  std::vector<double> bases, withs, diffs, owns;
  nlohmann::json last_with;
  for (std::size_t r = 1; r <= rounds; ++r) {
    std::printf("  [coordinator-cost] round %zu/%zu: %zu heartbeating actors, %.0f s per phase\n",
                r, rounds, executors, seconds);
    std::fflush(stdout);
    double base = baseline_phase(executors, seconds, warmup);
    last_with = coordinator_phase(executors, seconds, warmup);
    double pct = last_with["cpu_percent_of_one_core"].get<double>();
    double own = last_with["coordinator_thread_cpu_percent"].get<double>();
    std::printf("  [coordinator-cost] round %zu: process %.2f %% without, %.2f %% with the "
                "coordinator; the coordinator's thread %.2f %%\n",
                r, base, pct, own);
    std::fflush(stdout);
    bases.push_back(base);
    withs.push_back(pct);
    diffs.push_back(pct - base);
    owns.push_back(own);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    auto n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
  };
  return {{"executors", executors},
          {"heartbeat_hz", 1},
          {"seconds", seconds},
          {"warmup_seconds", warmup},
          {"rounds", rounds},
          {"coordinator_cpu_percent", median(owns)},
          {"coordinator_cpu_percent_per_round", owns},
          {"baseline_cpu_percent", median(bases)},
          {"with_coordinator_cpu_percent", median(withs)},
          {"process_difference_cpu_percent", median(diffs)},
          {"process_difference_cpu_percent_per_round", diffs},
          {"coordinator_phase", last_with},
          {"coordinator_settings",
           {{"health_interval_s", 10}, {"scaling_interval_s", 30}, {"auto_scaling", true}}}};
}

} // namespace tasker::bench
