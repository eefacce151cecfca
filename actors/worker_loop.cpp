#include "actors/worker_loop.hpp"

#include "messaging/identifier.hpp"
#include "resources/session.hpp"
#include "resources/store_error.hpp"
#include "resources/store_states.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <limits>
#include <map>
#include <set>

namespace tasker::actors {

using messaging::queue_client;

std::string namespace_queue_name(const worker_options& opts) {
  messaging::validated_identifier("namespace", opts.namespace_name);
  return messaging::validated_identifier("namespace queue",
                                         opts.namespace_name + opts.namespace_suffix);
}

messaging::worker_info make_worker_info(const std::string& id) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0)
    host[0] = '\0';
  return {id, host, static_cast<std::int64_t>(::getpid())};
}

// The claim, as one statement outside a transaction block (no BEGIN, no
// COMMIT round trip). It locks up to $1 visible messages of the queue (oldest
// first, skipping those other readers hold) and starts the enqueued steps they
// name (tasker_start_steps with $3 as the history metadata). A message whose
// step it started and that tasker_is_step_message accepts is consumed: deleted
// here, since the step's in_progress state now records the work (a worker that
// dies leaves the step to the rescue sweep). Every other message stays, hidden
// until every step of the batch up to it could have timed out, since they run
// one after another: $2 seconds when $2 > 0, otherwise the sum of
// (timeout_seconds + $5) over the messages so far, a message without a usable
// timeout_seconds counting $4, and never less than $4 + $5. The worker archives
// or deletes those. Rows: one per message (msg_id, body, consumed, read_ct,
// enqueued_at, vt, headers; the rest null), then one per step named by a
// message (step uuid, its state, whether this call started it). Steps are
// named by any message whose step_uuid is a UUID. The queue is a validated
// identifier. Rows are addressed by `msg_id = ANY (ARRAY(...))`, an index probe
// in every plan (see messaging/queue_client.cpp). The claim commits without
// waiting for the WAL flush (resources::commit_without_flush, whatever the
// session's setting): lost in a crash, it leaves the steps enqueued and their
// messages in the queue, to be claimed again, as a worker that dies after a
// claim leaves them in_progress for the rescue sweep; either way the step runs
// again.
std::string claim_statement_sql(const std::string& queue) {
  const std::string table = "tasker_mq.q_" + queue;
  return "WITH locked AS (SELECT msg_id, message FROM " + table
         + " WHERE vt <= clock_timestamp() AND " + std::string{resources::commit_without_flush}
         + " ORDER BY msg_id LIMIT $1 FOR UPDATE SKIP LOCKED),"
           " picked AS (SELECT msg_id, CASE WHEN $2::integer > 0 THEN $2::integer"
           " ELSE least(greatest(sum(CASE WHEN jsonb_typeof(message->'timeout_seconds') = 'number'"
           " THEN least(greatest((message->>'timeout_seconds')::numeric, 0), 1073741824)"
           " ELSE $4::integer END + $5::integer) OVER (ORDER BY msg_id),"
           " $4::integer + $5::integer), 1073741824)::integer END AS secs,"
           " CASE WHEN jsonb_typeof(message) = 'object'"
           " AND tasker_is_uuid_text(message->>'step_uuid')"
           " THEN (message->>'step_uuid')::uuid END AS step,"
           " tasker_is_step_message(message) AS well_formed FROM locked),"
           " started AS MATERIALIZED (SELECT s.workflow_step_uuid, s.current_state, s.started"
           " FROM tasker_start_steps(ARRAY(SELECT DISTINCT p.step FROM picked p"
           " WHERE p.step IS NOT NULL), $3::jsonb) s),"
           " consumed AS (SELECT p.msg_id FROM picked p JOIN started s"
           " ON s.workflow_step_uuid = p.step AND s.started WHERE p.well_formed),"
           " gone AS (DELETE FROM " + table
         + " q WHERE q.msg_id = ANY (ARRAY(SELECT c.msg_id FROM consumed c))"
           " RETURNING q.msg_id, q.message, true AS consumed, q.read_ct + 1 AS read_ct,"
           " q.enqueued_at, q.vt, q.headers),"
           " taken AS (UPDATE " + table
         + " q SET vt = clock_timestamp() + make_interval(secs => p.secs),"
           " read_ct = q.read_ct + 1 FROM picked p"
           " WHERE q.msg_id = ANY (ARRAY(SELECT k.msg_id FROM picked k"
           " WHERE k.msg_id NOT IN (SELECT c.msg_id FROM consumed c))) AND p.msg_id = q.msg_id"
           " RETURNING q.msg_id, q.message, false, q.read_ct, q.enqueued_at, q.vt, q.headers)"
           " SELECT *, NULL::text, NULL::text, NULL::boolean FROM gone"
           " UNION ALL SELECT *, NULL, NULL, NULL FROM taken"
           " UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
           " workflow_step_uuid::text, current_state, started FROM started";
}

namespace {

std::string lowercase(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

} // namespace

step_worker::step_worker(worker_options opts, std::shared_ptr<const handler_registry> handlers,
                         std::string worker_id, std::shared_ptr<worker_counters> counters,
                         std::shared_ptr<work_doorbell> doorbell)
  : opts_(std::move(opts)),
    handlers_(std::move(handlers)),
    counters_(std::move(counters)),
    info_(make_worker_info(worker_id)),
    queue_(namespace_queue_name(opts_)),
    work_(opts_.database_url),
    doorbell_(std::move(doorbell)),
    claim_size_(opts_.batch_size, claim_horizon) {
  messaging::validated_identifier("step results queue", opts_.step_results_queue);
  if (!doorbell_)
    throw std::invalid_argument("worker " + info_.id + ": no doorbell for queue " + queue_);
  resources::apply_session_settings(work_);
  // The claim and the result post return without waiting for the WAL flush.
  // Each is redone when a crash loses it: a lost claim leaves its steps
  // enqueued with their messages in the queue, and a lost post leaves its
  // steps in_progress for the rescue sweep, which gives back the attempt of
  // a step started before the server's restart (0043_restart_aware_rescue.sql),
  // so the step runs again as if its worker had never claimed it.
  work_.set_variable("synchronous_commit", "off");
  // The moment of the server's last crash recovery is noted (when not yet)
  // before this connection claims anything, so every step it starts counts
  // as started after it. A connection broken by a crash fails the batch that
  // uses it, and the actor that dies of it is replaced by one that connects
  // anew, through this constructor.
  try {
    pqxx::nontransaction tx{work_};
    tx.exec1("SELECT tasker_server_restarted_at()");
  } catch (const pqxx::undefined_function&) {
    throw std::runtime_error("worker " + info_.id + ": the database schema is older than this "
                             "worker (no tasker_server_restarted_at(), migration "
                             "0043_restart_aware_rescue.sql): run `tasker-node migrate`");
  }
  claim_statement_ = "tw_claim:" + queue_; // at most 57 bytes: within PostgreSQL's 63
  work_.prepare(claim_statement_, claim_statement_sql(queue_));
}

step_worker::~step_worker() = default;

void step_worker::wait_for_work() {
  doorbell_->wait(opts_.poll_interval);
}

std::size_t step_worker::run_batch() {
  auto claimed = claim_batch();
  std::vector<finished_step> finished;
  std::chrono::steady_clock::time_point oldest;
  std::chrono::steady_clock::duration last_run{};
  std::chrono::steady_clock::duration total_run{};
  for (const auto& c : claimed) {
    // Hold results only while handlers are quick: when the previous step took
    // a noticeable time the next may too, so what waits is posted first.
    const auto now = std::chrono::steady_clock::now();
    if (!finished.empty()
        && (last_run >= result_flush_window / 5 || now - oldest >= result_flush_window))
      post_results(finished);
    auto result = run_step(c);
    last_run = std::chrono::steady_clock::now() - now;
    total_run += last_run;
    if (finished.empty())
      oldest = std::chrono::steady_clock::now();
    finished.push_back({&c, std::move(result)});
  }
  post_results(finished);
  claim_size_.record(claimed.size(), total_run);
  return claimed.size();
}

std::vector<step_worker::claimed_step> step_worker::claim_batch() {
  const auto batch = claim_size_.next();
  // The statement prepared by the constructor reads the batch, starts the
  // steps, consumes the well-formed messages of the steps it started and hides
  // the others for as long as the steps up to them may take; it commits on its
  // own. A worker that dies after it leaves its steps in_progress (the rescue
  // sweep returns them) and the messages it kept hidden.
  struct step_row {
    std::string state;
    bool started = false;
  };
  struct claimed_message {
    messaging::consumed_message row;
    bool consumed = false;
  };
  std::vector<claimed_message> msgs;
  std::map<std::string, step_row> steps;
  {
    pqxx::nontransaction tx{work_};
    nlohmann::json meta{{"worker", info_.id}, {"queue", queue_}};
    pqxx::result rows;
    try {
      rows = tx.exec_prepared(claim_statement_, static_cast<int>(batch),
                              std::max(opts_.visibility_timeout_seconds, 0), meta.dump(),
                              messaging::step_message{}.timeout_seconds,
                              visibility_margin_seconds);
    } catch (const pqxx::undefined_table& e) {
      throw pqxx::undefined_table("queue '" + queue_ + "' does not exist (register a template "
                                  "of namespace " + opts_.namespace_name + " to create it)",
                                  e.query(), e.sqlstate().c_str());
    }
    ++counters_->claims;
    for (const auto& row : rows) {
      if (!row[0].is_null()) {
        claimed_message m;
        m.row.msg_id = row[0].as<std::int64_t>();
        m.row.body = row[1].c_str();
        m.consumed = row[2].as<bool>();
        m.row.read_ct = row[3].as<std::int32_t>();
        m.row.enqueued_at = row[4].c_str();
        m.row.vt = row[5].c_str();
        m.row.headers = row[6].is_null() ? std::string{} : std::string{row[6].c_str()};
        msgs.push_back(std::move(m));
      } else {
        steps[row[7].as<std::string>()] = {row[8].as<std::string>(), row[9].as<bool>()};
      }
    }
  }
  last_claim_full_ = msgs.size() == batch;
  if (msgs.empty())
    return {};
  std::sort(msgs.begin(), msgs.end(),
            [](const auto& x, const auto& y) { return x.row.msg_id < y.row.msg_id; });
  if (last_claim_full_)
    doorbell_->ring(); // more may be waiting: an idle actor of the group reads too
  std::vector<messaging::archive_entry> invalid;       // still in the queue
  std::vector<messaging::archive_entry> invalid_taken; // consumed by the claim
  std::vector<messaging::consumed_message> taken_rows;
  std::vector<claimed_step> parsed;
  auto where = [&](std::int64_t id) {
    return "queue " + queue_ + " message " + std::to_string(id) + ": ";
  };
  for (const auto& m : msgs) {
    const auto id = m.row.msg_id;
    try {
      // No size limit: the node wrote it (a context may be as large as
      // max_message_bytes, and parents' results come on top).
      parsed.push_back({id,
                        messaging::parse_step_message_text(
                          m.row.body, std::numeric_limits<std::size_t>::max()),
                        m.consumed});
    } catch (const messaging::wire_error& e) {
      // The claim consumes only what tasker_is_step_message accepts, which is
      // meant to be stricter than this parser; should the two ever disagree,
      // the consumed copy is archived, exactly as it was stored.
      if (m.consumed) {
        spdlog::error("worker {}: {}consumed by the claim but refused by the parser: {}",
                      info_.id, where(id), e.what());
        invalid_taken.push_back({id, where(id) + e.what()});
        taken_rows.push_back(m.row);
      } else {
        invalid.push_back({id, where(id) + e.what()});
      }
      // Its step_uuid may have named an enqueued step, now started with no
      // one to run it: the rescue sweep returns it after its timeout.
      auto j = nlohmann::json::parse(m.row.body, nullptr, false);
      if (j.is_object() && j.contains("step_uuid") && j["step_uuid"].is_string()) {
        auto s = steps.find(lowercase(j["step_uuid"].get<std::string>()));
        if (s != steps.end() && s->second.started)
          spdlog::warn("worker {}: {}step {} was started for this malformed message; it is "
                       "rescued after its timeout", info_.id, where(id), s->first);
      }
    }
  }
  std::vector<claimed_step> claimed;
  std::vector<std::int64_t> duplicates;
  std::size_t duplicate_count = 0;
  std::set<std::string> seen;
  for (auto& p : parsed) {
    const auto key = lowercase(p.step.step_uuid);
    auto s = steps.find(key);
    if (s == steps.end()) {
      // A consumed message named a step the claim started: it exists.
      invalid.push_back({p.msg_id, where(p.msg_id) + "step_message.step_uuid: workflow step "
                                     + p.step.step_uuid + " does not exist"});
    } else if (!s->second.started || !seen.insert(key).second) {
      spdlog::debug("worker {}: {}step {} is {}, not enqueued: {} the duplicate", info_.id,
                    where(p.msg_id), p.step.step_uuid, s->second.started ? "started" : s->second.state,
                    p.consumed ? "consumed" : "deleting");
      ++duplicate_count;
      if (!p.consumed)
        duplicates.push_back(p.msg_id);
    } else {
      claimed.push_back(std::move(p));
    }
  }
  if (!invalid.empty() || !invalid_taken.empty() || !duplicates.empty()) {
    pqxx::work tx{work_};
    // Archived copies of consumed messages exist nowhere else: this commit
    // waits for the flush.
    if (!invalid_taken.empty())
      tx.exec0("SET LOCAL synchronous_commit = on");
    for (const auto* list : {&invalid, &invalid_taken})
      for (const auto& e : *list)
        spdlog::warn("worker {}: archiving {}", info_.id, e.reason);
    if (!invalid.empty())
      queue_client::archive(tx, queue_, invalid);
    if (!invalid_taken.empty())
      queue_client::archive_consumed(tx, queue_, taken_rows, invalid_taken);
    if (!duplicates.empty())
      queue_client::remove(tx, queue_, duplicates);
    tx.commit();
  }
  counters_->archived += invalid.size() + invalid_taken.size();
  counters_->duplicates += duplicate_count;
  return claimed;
}

messaging::step_result step_worker::run_step(const claimed_step& c) const {
  const auto& step = c.step;
  messaging::step_result out;
  out.task_uuid = step.task_uuid;
  out.step_uuid = step.step_uuid;
  out.worker = info_;
  out.attempt = step.attempt;
  handler_result r;
  auto started = std::chrono::steady_clock::now();
  if (const auto* fn = handlers_->find(step.handler)) {
    try {
      r = (*fn)(step);
    } catch (const std::exception& e) {
      r = handler_result::failure("handler '" + step.handler + "' threw: " + e.what());
    } catch (...) {
      r = handler_result::failure("handler '" + step.handler + "' threw a non-exception");
    }
  } else {
    r = handler_result::failure("no handler named '" + step.handler + "'", false);
  }
  out.execution_time_ms =
    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  if (r.success) {
    out.status = messaging::step_status::success;
    out.results = std::move(r.results);
  } else {
    out.status = messaging::step_status::failed;
    out.results = r.results.is_null() ? nlohmann::json(nullptr) : std::move(r.results);
    out.error = messaging::step_error{r.error_message.empty() ? "handler failed" : r.error_message,
                                      r.retryable, std::nullopt};
    if (r.retry_after_seconds && *r.retry_after_seconds >= 0)
      out.retry_after_seconds = r.retry_after_seconds;
  }
  return out;
}

void step_worker::post_results(std::vector<finished_step>& finished) {
  if (finished.empty())
    return;
  std::vector<std::string> bodies; // each serialized once: measured, then sent
  std::vector<std::int64_t> msg_ids;
  for (auto& f : finished) {
    const auto& c = *f.claimed;
    auto& result = f.result;
    // A result that cannot travel (invalid UTF-8, too large) becomes a failure
    // that says so, rather than a message the result processor must reject.
    std::string body;
    try {
      body = result.to_json().dump();
      if (body.size() > opts_.max_message_bytes)
        throw std::length_error("the result exceeds " + std::to_string(opts_.max_message_bytes)
                                + " bytes");
    } catch (const std::exception& e) {
      result.status = messaging::step_status::failed;
      result.results = nullptr;
      result.error = messaging::step_error{
        "handler '" + c.step.handler + "' returned results that cannot be sent: " + e.what(),
        false, std::nullopt};
      // The handler's name and the step's fields came through the parser: valid UTF-8.
      body = result.to_json().dump();
    }
    bodies.push_back(std::move(body));
    if (!c.consumed)
      msg_ids.push_back(c.msg_id); // kept by the claim: deleted with its result
  }
  // One statement, atomic on its own: no BEGIN and COMMIT round trips.
  pqxx::nontransaction tx{work_};
  if (msg_ids.empty())
    queue_client::send_serialized_batch(tx, opts_.step_results_queue, bodies);
  else
    queue_client::send_serialized_batch_and_remove(tx, opts_.step_results_queue, bodies, queue_,
                                                    msg_ids);
  for (const auto& f : finished) {
    const auto& c = *f.claimed;
    const auto& result = f.result;
    ++counters_->steps_run;
    if (result.status == messaging::step_status::failed) {
      ++counters_->failures;
      spdlog::info("worker {}: step {} ('{}' of task {}) attempt {} failed: {}", info_.id,
                   c.step.step_uuid, c.step.step_name, c.step.task_uuid, c.step.attempt,
                   result.error->message);
    } else {
      spdlog::debug("worker {}: step {} ('{}') attempt {} succeeded in {:.1f} ms", info_.id,
                    c.step.step_uuid, c.step.step_name, c.step.attempt,
                    result.execution_time_ms);
    }
  }
  finished.clear();
}

} // namespace tasker::actors
