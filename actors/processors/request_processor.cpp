#include "actors/processors/processor_types.hpp"
#include "actors/processors/processors.hpp"
#include "actors/processors/step_dispatch.hpp"

#include "messaging/batch_read.hpp"
#include "messaging/wire.hpp"
#include "resources/store_execution.hpp"
#include "resources/store_tasks.hpp"

#include <stdexcept>

namespace tasker::actors {

namespace {


resources::task_request to_store_request(const messaging::task_request& r) {
  resources::task_request out;
  out.namespace_name = r.namespace_name;
  out.task_name = r.task_name;
  out.task_version = r.task_version;
  out.context = r.context;
  out.priority = r.priority;
  out.initiator = r.initiator;
  out.reason = r.reason;
  out.request_id = r.request_id;
  return out;
}

// SAVEPOINTs by hand: pqxx 6.4's subtransaction is lazy and exec_params
// would not trigger it, so a failed call could abort the whole batch.
class savepoint {
public:
  explicit savepoint(pqxx::transaction_base& tx) : tx_(tx) { tx_.exec0("SAVEPOINT tasker_create"); }
  void release() { tx_.exec0("RELEASE SAVEPOINT tasker_create"); }
  void rollback() { tx_.exec0("ROLLBACK TO SAVEPOINT tasker_create"); }

private:
  pqxx::transaction_base& tx_;
};

} // namespace

task_request_processor::task_request_processor(const config::tasker_config& cfg,
                                               std::string node_id)
    : queue_(cfg.queues.names.task_requests),
      max_message_bytes_(static_cast<std::size_t>(cfg.queues.max_message_bytes)),
      node_id_(std::move(node_id)), namespace_suffix_(cfg.queues.names.namespace_suffix),
      start_on_creation_(cfg.orchestration.start_tasks_on_creation) {}

batch_outcome task_request_processor::process_batch(pqxx::connection& conn, std::size_t max_items) {
  // A batch the store accepts takes one call. One it refuses (an unknown or
  // damaged template) is rolled back, its messages with it, and read again
  // to be examined request by request, each in a savepoint.
  if (auto out = run_batch(conn, max_items, /*careful=*/false))
    return *out;
  return *run_batch(conn, max_items, /*careful=*/true);
}

std::optional<batch_outcome> task_request_processor::run_batch(pqxx::connection& conn,
                                                               std::size_t max_items,
                                                               bool careful) {
  pqxx::work tx{conn};
  // The batch is consumed by this transaction: a failure rolls it back whole.
  // Oversized requests are refused before parsing: they never reach the store.
  auto batch = messaging::read_parsed_batch(
      tx, queue_, max_items, max_message_bytes_, "task_request",
      [this](const std::string& text) {
        return to_store_request(messaging::parse_task_request_text(text, max_message_bytes_));
      });
  if (batch.read == 0) {
    tx.commit();
    return batch_outcome{};
  }
  auto& invalid = batch.invalid;
  const auto& ids = batch.ids;  // parsed requests' messages, in order
  auto& requests = batch.items; // parallel to ids
  // Each request's uuids are derived from its message, so a redo of this
  // batch after a crash creates the same ones. `ids` follows `consumed` in
  // order, skipping the refused messages.
  for (std::size_t i = 0, c = 0; i < ids.size(); ++i) {
    while (batch.consumed.at(c).msg_id != ids[i])
      ++c;
    requests[i].message_key = queue_ + "/" + std::to_string(ids[i]);
    requests[i].enqueued_at = batch.consumed[c].enqueued_at;
  }

  std::vector<std::int64_t> done;
  std::vector<std::string> fresh; // tasks this batch created (not duplicates)
  auto count = [&](const resources::created_task& t) {
    ++(t.duplicate ? duplicates_ : created_);
    if (!t.duplicate)
      fresh.push_back(t.task_uuid);
  };
  // Creates `reqs` in one call inside a savepoint; false (and nothing created)
  // when the store refused the batch.
  auto create_all = [&](const std::vector<resources::task_request>& reqs,
                        const std::vector<std::int64_t>& msg_ids) {
    savepoint sp{tx};
    try {
      for (const auto& t : resources::create_tasks(tx, reqs))
        count(t);
      sp.release();
      done.insert(done.end(), msg_ids.begin(), msg_ids.end());
      return true;
    } catch (const resources::store_error&) {
      sp.rollback();
      sp.release();
      return false;
    }
  };

  nlohmann::json wire = nlohmann::json::array();
  for (const auto& r : requests)
    wire.push_back(resources::to_json(r));
  if (!requests.empty() && !careful) {
    // Creates, starts and sends the first steps in one call. The tasks left
    // to the claim path have raised tasker_tasks_ready.
    resources::created_and_dispatched made;
    try {
      made = resources::create_start_and_dispatch(tx, wire, node_id_, start_on_creation_,
                                                  namespace_suffix_, missing_queue_delay_seconds);
    } catch (const resources::store_error&) {
      tx.abort(); // the messages are back in the queue for the careful pass
      return std::nullopt;
    }
    for (const auto& t : made.created)
      count(t);
    done = ids;
    report_held(made.dispatch.held);
  } else if (!requests.empty()) {
    // This transaction wakes the claimers itself, only for what it leaves them
    // (0015_quiet_start.sql); transaction-local, so it survives the savepoints.
    if (start_on_creation_)
      tx.exec("SELECT set_config('tasker.starting_new_tasks', 'on', true)");
    // The whole batch at once. A request the store refuses (an unknown
    // template, a damaged one) refuses the batch; only then is each request
    // examined, so that only the offending ones are archived, each with its
    // own reason. Error path only.
    if (!create_all(requests, ids)) {
      auto problems = resources::task_request_problems(tx, wire);
      std::vector<std::int64_t> ok_ids;
      std::vector<resources::task_request> ok;
      for (std::size_t i = 0; i < requests.size(); ++i) {
        if (problems.at(i).empty()) {
          ok_ids.push_back(ids[i]);
          ok.push_back(std::move(requests[i]));
        } else {
          invalid.push_back({ids[i], "task_request (request_id " + requests[i].request_id
                                       + "): " + problems[i]});
        }
      }
      // Something the resolution cannot see (e.g. a damaged template): one
      // request at a time.
      if (!ok.empty() && !create_all(ok, ok_ids)) {
        for (std::size_t i = 0; i < ok.size(); ++i) {
          savepoint one{tx};
          try {
            auto t = resources::create_task(tx, ok[i]);
            one.release();
            count(t);
            done.push_back(ok_ids[i]);
          } catch (const resources::store_error& e) {
            one.rollback();
            one.release();
            invalid.push_back({ok_ids[i], std::string{"task_request: "} + e.what()});
          }
        }
      }
    }
  }
  if (careful && start_on_creation_ && !fresh.empty()) {
    // Started here unless the claim path has ready work waiting.
    auto started = resources::start_new_tasks(tx, fresh, node_id_);
    if (!started.empty())
      dispatch_ready_steps(tx, started, node_id_, namespace_suffix_);
    if (started.size() < fresh.size())
      tx.exec_params("SELECT pg_notify($1, '')", std::string{tasks_ready_channel});
  }

  // Every consumed request was created, found a duplicate or refused.
  if (done.size() + invalid.size() != batch.read)
    throw std::logic_error("task requests: " + std::to_string(done.size() + invalid.size()) +
                           " of " + std::to_string(batch.read) + " requests of a batch resolved");
  if (!invalid.empty())
    archived_ += messaging::archive_refused(tx, queue_, batch);
  tx.commit();
  return batch_outcome{batch.read, true, std::nullopt};
}

} // namespace tasker::actors
