#pragma once
/// Test-only executors and processors for the actor tests.
///
/// `probe_executor` is a stand-in the pool can supervise without a database:
/// it records what it was told and obeys stop requests. `scripted_processor`
/// is a real `batch_processor` (it runs a query on the leased connection)
/// whose outcomes a test scripts through a shared control block.

#include "actors/executor.hpp"
#include "coordinator/pool.hpp"
#include "messaging/messages.hpp"

#include <caf/all.hpp>
#include <pqxx/nontransaction>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace tasker::testing {

/// Makes a probe executor crash with a runtime error.
using crash_atom = caf::atom_constant<caf::atom("crash")>;

/// What a probe executor saw.
struct probe_state {
  coordinator::spawn_context context;
  double backpressure = 1.0;
  bool ignore_stop = false;
  int stops = 0;
  static inline const char* name = "tasker.test.probe";
};

/// A supervised stand-in: obeys stop (unless told to ignore it) and records
/// backpressure; crashes on `crash_atom`.
inline caf::behavior probe_executor(caf::stateful_actor<probe_state>* self,
                                    coordinator::spawn_context ctx, bool ignore_stop) {
  self->state.context = ctx;
  self->state.backpressure = ctx.backpressure;
  self->state.ignore_stop = ignore_stop;
  return {
    [=](const messaging::stop_request&) {
      ++self->state.stops;
      if (!self->state.ignore_stop)
        self->quit(messaging::make_error(messaging::executor_exit::drained));
    },
    [=](const messaging::backpressure& bp) { self->state.backpressure = bp.factor; },
    [=](crash_atom) { self->quit(caf::sec::runtime_error); },
  };
}

/// A pool factory for probe executors; every spawned handle is appended to
/// `spawned` so a test can address them.
inline coordinator::executor_factory
probe_factory(std::shared_ptr<std::vector<caf::actor>> spawned, bool ignore_stop = false) {
  return [=](caf::actor_system& sys, const coordinator::spawn_context& ctx) {
    auto hdl = sys.spawn(probe_executor, ctx, ignore_stop);
    spawned->push_back(hdl);
    return hdl;
  };
}

/// Every message a `recorder` received, in order.
using message_log = std::shared_ptr<std::vector<caf::message>>;

/// A stand-in peer (coordinator, pool) that records everything sent to it.
inline caf::behavior recorder(caf::event_based_actor* self, message_log log) {
  self->set_default_handler([=](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
    log->push_back(x.copy_content_to_message());
    return caf::delegated<caf::message>{}; // record only, never answer
  });
  return {
    [=](const messaging::stop_request& x) { log->push_back(caf::make_message(x)); },
  };
}

/// The recorded messages of type `T`, in arrival order.
template <class T>
std::vector<T> received(const message_log& log) {
  std::vector<T> out;
  for (auto& msg : *log)
    if (msg.match_elements<T>())
      out.push_back(msg.get_as<T>(0));
  return out;
}

/// The script a `scripted_processor` follows, shared with the test.
struct processor_script {
  /// Items each batch reports; at most the batch's max_items.
  std::size_t items_per_batch = 0;
  /// When set, every batch throws this message (a failure).
  std::optional<std::string> throw_message;
  /// Runs inside every batch with the batch's max_items, e.g. to advance the
  /// virtual clock so the batch takes "busy" time.
  std::function<void(std::size_t)> during_batch;
  /// Batches run so far (calls to process_batch).
  int calls = 0;
  /// max_items of the most recent call.
  std::size_t last_max_items = 0;
  /// Queries that really ran on the leased connection.
  int queries = 0;
  /// Guards the counters above: the executors of a live pool share one
  /// script and run their batches on their own threads.
  std::mutex mtx;
};

/// A real processor: runs `SELECT 1` on its lease, then does what the script says.
class scripted_processor : public actors::batch_processor {
public:
  explicit scripted_processor(std::shared_ptr<processor_script> script)
    : script_(std::move(script)) {}

  actors::batch_outcome process_batch(pqxx::connection& conn, std::size_t max_items) override {
    {
      std::lock_guard<std::mutex> guard{script_->mtx};
      ++script_->calls;
      script_->last_max_items = max_items;
    }
    pqxx::nontransaction tx{conn};
    if (tx.exec1("SELECT 1")[0].as<int>() == 1) {
      std::lock_guard<std::mutex> guard{script_->mtx};
      ++script_->queries;
    }
    if (script_->during_batch)
      script_->during_batch(max_items);
    if (script_->throw_message)
      throw std::runtime_error(*script_->throw_message);
    auto items = std::min(script_->items_per_batch, max_items);
    return actors::batch_outcome{items, items > 0, std::nullopt};
  }

  std::string name() const override { return "scripted"; }

private:
  std::shared_ptr<processor_script> script_;
};

} // namespace tasker::testing
