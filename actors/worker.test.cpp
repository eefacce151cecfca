#include "actors/worker.hpp"

#include "messaging/messages.hpp"
#include "messaging/queue_client.hpp"
#include "resources/store_test_support.hpp"
#include "tests/support/scratch_db.hpp"

#include <caf/all.hpp>
#include <doctest/doctest.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <optional>
#include <thread>

using namespace tasker;
using namespace tasker::actors;
using messaging::queue_client;
using namespace std::chrono_literals;

namespace {

const std::string ns_queue = "shop_queue";
const std::string results_queue = "orchestration_step_results";

/// Polls `pred` until it holds or a generous deadline passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds limit = 60s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

struct worker_fixture {
  tasker::testing::scratch_db db;
  pqxx::connection conn{db.url()};
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor group;
  int templates = 0;

  worker_fixture() {
    // The binaries set up logging on the main thread before any actor runs;
    // here the worker actors' first log lines would construct spdlog's
    // registry concurrently, inside a library ThreadSanitizer cannot see into.
    spdlog::default_logger();
    pqxx::work tx{conn};
    queue_client::create_queue(tx, ns_queue);
    queue_client::create_queue(tx, results_queue);
    tx.commit();
  }

  ~worker_fixture() {
    if (group)
      stop(group);
    sys.reset();
  }

  worker_options options(std::size_t concurrency = 1) const {
    worker_options o;
    o.database_url = db.url();
    o.namespace_name = "shop";
    o.concurrency = concurrency;
    o.poll_interval = 100ms;
    return o;
  }

  caf::actor start(const worker_options& o,
                   std::shared_ptr<const handler_registry> reg = make_builtin_registry()) {
    if (!sys) {
      cfg = std::make_unique<caf::actor_system_config>();
      sys = std::make_unique<caf::actor_system>(*cfg);
    }
    group = spawn_worker_group(*sys, o, std::move(reg));
    return group;
  }

  /// Sends an exit to the group and waits until it is gone.
  void stop(caf::actor& g) {
    caf::scoped_actor self{*sys};
    self->monitor(g);
    self->send_exit(g, caf::exit_reason::user_shutdown);
    bool down = false;
    self->receive([&](caf::down_msg&) { down = true; }, caf::after(120s) >> [] {});
    CHECK(down);
    g = nullptr;
  }

  worker_group_status status() {
    caf::scoped_actor self{*sys};
    worker_group_status out;
    self->request(group, 30s, messaging::status_atom::value)
      .receive([&](worker_group_status& s) { out = s; }, [](caf::error&) {});
    return out;
  }

  /// Creates a task of the given steps (independent of each other), moves
  /// them to enqueued and returns their messages, unsent.
  std::vector<messaging::step_message> enqueue_task(std::vector<messaging::step_template> steps) {
    messaging::task_template t;
    t.namespace_name = "shop";
    t.name = "t" + std::to_string(++templates);
    t.version = "1.0.0";
    t.steps = steps;
    pqxx::work tx{conn};
    auto task = resources::test::make_task(tx, t);
    auto ids = resources::test::step_ids(tx, task);
    std::vector<messaging::step_message> out;
    std::vector<std::string> uuids;
    for (const auto& s : steps) {
      messaging::step_message m;
      m.task_uuid = task;
      m.step_uuid = ids.at(s.name);
      m.step_name = s.name;
      m.handler = s.handler;
      m.namespace_name = "shop";
      m.task_name = t.name;
      m.inputs = s.inputs;
      m.timeout_seconds = s.timeout_seconds;
      uuids.push_back(m.step_uuid);
      out.push_back(m);
    }
    resources::transition_steps(tx, uuids, resources::step_state::enqueued);
    tx.commit();
    return out;
  }

  std::vector<messaging::step_message> enqueue_one(std::string handler,
                                                   nlohmann::json inputs = nlohmann::json::object()) {
    messaging::step_template s;
    s.name = "s";
    s.handler = std::move(handler);
    s.inputs = std::move(inputs);
    return enqueue_task({s});
  }

  std::vector<std::int64_t> send(const std::vector<messaging::step_message>& msgs) {
    std::vector<nlohmann::json> bodies;
    for (const auto& m : msgs)
      bodies.push_back(m.to_json());
    pqxx::work tx{conn};
    auto ids = queue_client::send_batch(tx, ns_queue, bodies);
    tx.commit();
    return ids;
  }

  /// Every step result posted so far, without consuming them (the read is rolled back).
  std::vector<messaging::step_result> results() {
    pqxx::work tx{conn};
    std::vector<messaging::step_result> out;
    for (const auto& m : queue_client::read(tx, results_queue, 0, 10000))
      out.push_back(messaging::parse_step_result(m.message));
    return out;
  }

  std::int64_t queue_length(const std::string& q) {
    pqxx::work tx{conn};
    return queue_client::metrics(tx, q).queue_length;
  }

  resources::step_state state_of(const std::string& step) {
    pqxx::work tx{conn};
    return resources::current_step_state(tx, step);
  }

  /// Runs a worker group in a child process until `step` is in_progress,
  /// then kills it (SIGKILL: no chance to clean up); true when the step got
  /// there. Call it before this process has an actor system: the child starts
  /// from a single-threaded copy.
  bool killed_mid_step(const worker_options& o, const std::string& step) {
    REQUIRE_FALSE(sys);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      caf::actor_system_config child_cfg;
      caf::actor_system child_sys{child_cfg};
      spawn_worker_group(child_sys, o, make_builtin_registry());
      for (;;)
        ::pause();
    }
    bool running =
      eventually([&] { return state_of(step) == resources::step_state::in_progress; });
    ::kill(child, SIGKILL);
    int wstatus = 0;
    ::waitpid(child, &wstatus, 0);
    return running;
  }

  /// The orchestration side's retry: in_progress -> error -> enqueued.
  void retry(const std::string& step) {
    pqxx::work tx{conn};
    resources::transition_steps(tx, {step}, resources::step_state::error);
    resources::transition_steps(tx, {step}, resources::step_state::enqueued);
    tx.commit();
  }
};

} // namespace

TEST_CASE_FIXTURE(worker_fixture, "a noop step gets a success result and its message is deleted") {
  auto msgs = enqueue_one("noop");
  send(msgs);
  start(options());
  REQUIRE(eventually([&] { return results().size() == 1; }));
  auto r = results().front();
  CHECK(r.status == messaging::step_status::success);
  CHECK(r.step_uuid == msgs[0].step_uuid);
  CHECK(r.task_uuid == msgs[0].task_uuid);
  CHECK(r.attempt == 1);
  REQUIRE(r.worker.has_value());
  CHECK(r.worker->pid == static_cast<std::int64_t>(::getpid()));
  CHECK(r.execution_time_ms >= 0);
  CHECK(eventually([&] { return queue_length(ns_queue) == 0; }));
  // Completing the step is the result processor's job, not the worker's.
  CHECK(state_of(msgs[0].step_uuid) == resources::step_state::in_progress);
  CHECK(eventually([&] { return status().steps_run == 1; }));
}

TEST_CASE_FIXTURE(worker_fixture, "fail with two failures fails attempts one and two and "
                                  "succeeds on the third") {
  auto msgs = enqueue_one("fail", {{"failures", 2}});
  start(options());
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto m = msgs[0];
    m.attempt = attempt;
    send({m});
    REQUIRE(eventually([&] { return results().size() == static_cast<std::size_t>(attempt); }));
    auto r = results().back();
    CHECK(r.attempt == attempt);
    if (attempt < 3) {
      CHECK(r.status == messaging::step_status::failed);
      REQUIRE(r.error.has_value());
      CHECK(r.error->retryable);
      retry(m.step_uuid);
    } else {
      CHECK(r.status == messaging::step_status::success);
    }
  }
  CHECK(eventually([&] { return status().failures == 2; }));
}

TEST_CASE_FIXTURE(worker_fixture, "command steps run a program without a shell and report "
                                  "its JSON or its failure") {
  auto ok = enqueue_one("command", {{"program", "/bin/cat"}});
  auto bad = enqueue_one("command", {{"program", "/bin/false"}});
  send(ok);
  send(bad);
  start(options());
  REQUIRE(eventually([&] { return results().size() == 2; }));
  std::map<std::string, messaging::step_result> by_step;
  for (auto& r : results())
    by_step[r.step_uuid] = r;
  auto& cat = by_step.at(ok[0].step_uuid);
  CHECK(cat.status == messaging::step_status::success);
  CHECK(cat.results["step_uuid"] == ok[0].step_uuid); // cat echoed the step message
  auto& f = by_step.at(bad[0].step_uuid);
  CHECK(f.status == messaging::step_status::failed);
  CHECK(f.error->message.find("exited with status 1") != std::string::npos);
}

TEST_CASE_FIXTURE(worker_fixture, "an http step reports a 503 Retry-After as retry_after_seconds") {
  httplib::Server srv;
  srv.Post("/ok", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"charged":true})", "application/json");
  });
  srv.Post("/busy", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_header("Retry-After", "12");
  });
  int port = srv.bind_to_any_port("127.0.0.1");
  std::thread t{[&] { srv.listen_after_bind(); }};
  auto base = "http://127.0.0.1:" + std::to_string(port);
  auto ok = enqueue_one("http", {{"url", base + "/ok"}});
  auto busy = enqueue_one("http", {{"url", base + "/busy"}});
  auto far = enqueue_one("http", {{"url", "http://198.51.100.7/hook"}});
  send(ok);
  send(busy);
  send(far);
  start(options());
  bool done = eventually([&] { return results().size() == 3; });
  srv.stop();
  t.join();
  REQUIRE(done);
  std::map<std::string, messaging::step_result> by_step;
  for (auto& r : results())
    by_step[r.step_uuid] = r;
  CHECK(by_step.at(ok[0].step_uuid).results["charged"] == true);
  auto& b = by_step.at(busy[0].step_uuid);
  CHECK(b.status == messaging::step_status::failed);
  CHECK(b.error->retryable);
  REQUIRE(b.retry_after_seconds.has_value());
  CHECK(*b.retry_after_seconds == doctest::Approx(12.0));
  auto& refused = by_step.at(far[0].step_uuid);
  CHECK(refused.status == messaging::step_status::failed);
  CHECK_FALSE(refused.error->retryable);
  CHECK(refused.error->message.find("198.51.100.7") != std::string::npos);
}

TEST_CASE_FIXTURE(worker_fixture, "an unknown handler yields a non-retryable failure naming it") {
  auto msgs = enqueue_one("no_such_handler");
  send(msgs);
  start(options());
  REQUIRE(eventually([&] { return results().size() == 1; }));
  auto r = results().front();
  CHECK(r.status == messaging::step_status::failed);
  REQUIRE(r.error.has_value());
  CHECK_FALSE(r.error->retryable);
  CHECK(r.error->message == "no handler named 'no_such_handler'");
}

TEST_CASE_FIXTURE(worker_fixture, "a result over the configured max_message_bytes is sent as a "
                                  "failure naming the limit, one under it as a success") {
  auto reg = make_builtin_registry();
  // {"text": "xxx..."} of 2 MiB: over the default limit of 1 MiB.
  reg->register_handler("large", [](const messaging::step_message&) {
    return handler_result::ok({{"text", std::string(std::size_t{2} << 20, 'x')}});
  });
  reg->register_handler("medium", [](const messaging::step_message&) {
    return handler_result::ok({{"text", std::string(8192, 'x')}});
  });
  auto result_of = [&](const std::string& step) {
    for (auto& r : results())
      if (r.step_uuid == step)
        return std::optional<messaging::step_result>{r};
    return std::optional<messaging::step_result>{};
  };

  auto large = enqueue_one("large");
  send(large);
  auto o = options();
  o.max_message_bytes = std::size_t{4} << 20;
  start(o, reg);
  REQUIRE(eventually([&] { return results().size() == 1; }));
  CHECK(result_of(large[0].step_uuid)->status == messaging::step_status::success);
  stop(group);

  auto medium = enqueue_one("medium");
  auto small = enqueue_one("noop");
  send(medium);
  send(small);
  o.max_message_bytes = 4096;
  start(o, reg);
  REQUIRE(eventually([&] { return results().size() == 3; }));
  auto refused = result_of(medium[0].step_uuid);
  REQUIRE(refused.has_value());
  CHECK(refused->status == messaging::step_status::failed);
  REQUIRE(refused->error.has_value());
  CHECK_FALSE(refused->error->retryable);
  CHECK(refused->error->message
        == "handler 'medium' returned results that cannot be sent: the result exceeds 4096 bytes");
  CHECK(result_of(small[0].step_uuid)->status == messaging::step_status::success);
}

TEST_CASE_FIXTURE(worker_fixture, "a malformed message is archived with its reason and a good "
                                  "one in the same batch still runs") {
  auto good = enqueue_one("noop");
  auto ghost = good[0];
  ghost.step_uuid = "00000000-0000-0000-0000-000000000001";
  std::int64_t bad_id = 0, ghost_id = 0;
  {
    pqxx::work tx{conn};
    bad_id = queue_client::send(tx, ns_queue, {{"task_uuid", "x"}, {"hello", 1}});
    ghost_id = queue_client::send(tx, ns_queue, ghost.to_json());
    tx.commit();
  }
  send(good);
  auto o = options();
  o.batch_size = 5;
  start(o);
  REQUIRE(eventually([&] { return results().size() == 1; }));
  CHECK(eventually([&] { return queue_length(ns_queue) == 0; }));
  pqxx::work tx{conn};
  auto archived = queue_client::list_archived(tx, ns_queue, 10);
  REQUIRE(archived.size() == 2);
  std::map<std::int64_t, std::string> reasons;
  for (const auto& a : archived)
    reasons[a.msg_id] = a.reason;
  CHECK(reasons.at(bad_id).find("message " + std::to_string(bad_id)) != std::string::npos);
  CHECK(reasons.at(bad_id).find("step_message.") != std::string::npos);
  CHECK(reasons.at(ghost_id).find("does not exist") != std::string::npos);
}

TEST_CASE_FIXTURE(worker_fixture, "a step message names its step in any letter case") {
  auto msgs = enqueue_one("noop");
  auto upper = msgs[0];
  for (auto& c : upper.step_uuid)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  send({upper});
  start(options());
  REQUIRE(eventually([&] { return results().size() == 1; }));
  CHECK(results()[0].status == messaging::step_status::success);
  CHECK(state_of(msgs[0].step_uuid) == resources::step_state::in_progress);
  CHECK(eventually([&] { return queue_length(ns_queue) == 0; }));
}

TEST_CASE_FIXTURE(worker_fixture, "a malformed message naming a real enqueued step is archived, "
                                  "and the step it started is left to the rescue sweep") {
  auto msgs = enqueue_one("noop");
  auto body = msgs[0].to_json();
  body["attempt"] = "first"; // not a number: the message is refused after the claim
  std::int64_t bad_id = 0;
  {
    pqxx::work tx{conn};
    bad_id = queue_client::send(tx, ns_queue, body);
    tx.commit();
  }
  start(options());
  REQUIRE(eventually([&] { return queue_length(ns_queue) == 0; }));
  pqxx::work tx{conn};
  auto archived = queue_client::list_archived(tx, ns_queue, 10);
  REQUIRE(archived.size() == 1);
  CHECK(archived[0].msg_id == bad_id);
  CHECK(archived[0].reason.find("step_message.attempt") != std::string::npos);
  tx.commit();
  // Started by the claim, never run: no result; the rescue sweep returns it
  // once its timeout has passed, as for a worker that died.
  CHECK(results().empty());
  CHECK(state_of(msgs[0].step_uuid) == resources::step_state::in_progress);
}

TEST_CASE_FIXTURE(worker_fixture, "a message whose step is already complete is deleted without "
                                  "running the handler") {
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto reg = make_builtin_registry();
  reg->register_handler("counted", [calls](const messaging::step_message&) {
    ++*calls;
    return handler_result::ok();
  });
  auto msgs = enqueue_one("counted");
  {
    pqxx::work tx{conn};
    resources::transition_steps(tx, {msgs[0].step_uuid}, resources::step_state::in_progress);
    resources::transition_steps(tx, {msgs[0].step_uuid}, resources::step_state::complete);
    tx.commit();
  }
  send(msgs);
  start(options(), reg);
  REQUIRE(eventually([&] { return status().duplicates == 1; }));
  CHECK(queue_length(ns_queue) == 0);
  CHECK(results().empty());
  CHECK(*calls == 0);
}

TEST_CASE_FIXTURE(worker_fixture, "the claim consumes the message of every step it starts, and a "
                                  "worker that dies mid-step leaves the step in_progress") {
  auto msgs = enqueue_one("sleep", {{"ms", 600000}});
  send(msgs);
  REQUIRE(killed_mid_step(options(), msgs[0].step_uuid));
  // The step's state records the work; the orchestration's rescue sweep
  // returns it once its timeout has passed.
  CHECK(results().empty());
  CHECK(queue_length(ns_queue) == 0);
  pqxx::work tx{conn};
  CHECK(tx.exec1("SELECT count(*) FROM tasker_mq.a_shop_queue")[0].as<int>() == 0);
  CHECK(tx.exec_params1("SELECT attempts FROM workflow_steps WHERE workflow_step_uuid = $1",
                        msgs[0].step_uuid)[0]
          .as<int>() == 1);
}

TEST_CASE_FIXTURE(worker_fixture, "the claim commits without waiting for the WAL flush, whether "
                                  "or not it finds work") {
  auto msgs = enqueue_one("noop");
  send(msgs);
  conn.prepare("claim_under_test", claim_statement_sql(ns_queue));
  auto flush_setting = [](pqxx::work& tx) {
    return tx.exec1("SHOW synchronous_commit")[0].as<std::string>();
  };
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    pqxx::work tx{conn};
    CHECK(flush_setting(tx) == "on");
    auto rows = tx.exec_prepared("claim_under_test", 10, 0, "{}", 300, 30);
    // The first round consumes the message and starts its step; the second
    // finds nothing.
    int consumed = 0;
    for (const auto& row : rows)
      consumed += !row[0].is_null() && row[2].as<bool>();
    CHECK(consumed == (round == 0 ? 1 : 0));
    CHECK(flush_setting(tx) == "off");
    tx.commit();
  }
  pqxx::work tx{conn};
  CHECK(flush_setting(tx) == "on");
  CHECK(tx.exec_params1("SELECT current_state FROM workflow_steps WHERE workflow_step_uuid = $1",
                        msgs[0].step_uuid)[0]
          .as<std::string>() == "in_progress");
}

TEST_CASE_FIXTURE(worker_fixture, "the result post commits without waiting for the WAL flush") {
  // A statement trigger on the results queue records the setting of every
  // transaction that inserts into it.
  {
    pqxx::work tx{conn};
    tx.exec0("CREATE TABLE post_flush_seen (setting text NOT NULL)");
    tx.exec0("CREATE FUNCTION record_post_flush() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
             " INSERT INTO post_flush_seen VALUES (current_setting('synchronous_commit'));"
             " RETURN NULL; END $$");
    tx.exec0("CREATE TRIGGER record_post_flush AFTER INSERT ON tasker_mq.q_" + results_queue
             + " FOR EACH STATEMENT EXECUTE FUNCTION record_post_flush()");
    // A producer's send waits for the flush.
    queue_client::send(tx, results_queue, nlohmann::json{{"producer", true}});
    tx.exec0("DELETE FROM tasker_mq.q_" + results_queue);
    tx.commit();
  }
  auto msgs = enqueue_one("noop");
  send(msgs);
  start(options());
  REQUIRE(eventually([&] { return results().size() == 1; }));
  pqxx::work tx{conn};
  std::vector<std::string> seen;
  for (const auto& row : tx.exec("SELECT setting FROM post_flush_seen ORDER BY ctid"))
    seen.push_back(row[0].as<std::string>());
  CHECK(seen == std::vector<std::string>{"on", "off"});
}

TEST_CASE_FIXTURE(worker_fixture, "a message the claim keeps runs and is deleted with its "
                                  "result") {
  // A number of magnitude 1e308 or more that a double still holds is one of
  // the things the claim's check (tasker_is_step_message) refuses and the
  // parser accepts: the claim keeps such a message, hidden, instead of
  // consuming it.
  auto kept = enqueue_one("noop", {{"pad", 1.5e308}});
  send(kept);
  start(options());
  REQUIRE(eventually([&] { return results().size() == 1; }));
  CHECK(results()[0].status == messaging::step_status::success);
  CHECK(queue_length(ns_queue) == 0);
  CHECK(status().duplicates == 0);
}

TEST_CASE_FIXTURE(worker_fixture, "a message the claim keeps reappears after the visibility "
                                  "timeout when its worker dies mid-step") {
  auto msgs = enqueue_one("sleep", {{"ms", 600000}, {"pad", 1.5e308}});
  auto ids = send(msgs);
  auto o = options();
  o.visibility_timeout_seconds = 3;
  REQUIRE(killed_mid_step(o, msgs[0].step_uuid));
  CHECK(queue_length(ns_queue) == 1); // still there, hidden
  std::vector<messaging::queue_message> again;
  REQUIRE(eventually([&] {
    pqxx::work tx{conn};
    again = queue_client::read(tx, ns_queue, 60, 1);
    tx.commit();
    return !again.empty();
  }));
  CHECK(again[0].msg_id == ids[0]);
  CHECK(again[0].read_ct == 2);
}

TEST_CASE_FIXTURE(worker_fixture, "the claim's check refuses every step message the worker's "
                                  "parser refuses") {
  auto base = enqueue_one("noop")[0].to_json();
  std::vector<nlohmann::json> refused;
  auto variant = [&](auto&& change) {
    auto m = base;
    change(m);
    refused.push_back(std::move(m));
  };
  for (const char* key : {"task_uuid", "step_uuid", "step_name", "handler", "namespace",
                          "task_name", "attempt", "retry_limit", "timeout_seconds"}) {
    variant([&](auto& m) { m.erase(key); });
    variant([&](auto& m) { m[key] = nullptr; });
    variant([&](auto& m) { m[key] = nlohmann::json::array(); });
  }
  for (const char* key : {"step_name", "handler", "task_name", "namespace"})
    variant([&](auto& m) { m[key] = ""; });
  for (const char* key : {"task_uuid", "step_uuid"}) {
    variant([&](auto& m) { m[key] = "x"; });
    variant([&](auto& m) { m[key] = m[key].template get<std::string>() + "0"; });
    variant([&](auto& m) { m[key] = 7; });
  }
  for (const char* key : {"attempt", "timeout_seconds"})
    variant([&](auto& m) { m[key] = 0; });
  for (const char* key : {"attempt", "retry_limit", "timeout_seconds"}) {
    variant([&](auto& m) { m[key] = -1; });
    variant([&](auto& m) { m[key] = 1.5; });
    variant([&](auto& m) { m[key] = "1"; });
    variant([&](auto& m) { m[key] = 2147483648LL; });
    variant([&](auto& m) { m[key] = true; });
  }
  for (const char* ns : {"Shop", "1shop", "shop-x", "a_name_that_is_longer_than_forty_eight_characters_"})
    variant([&](auto& m) { m["namespace"] = ns; });
  for (const char* key : {"inputs", "dependency_results", "context"}) {
    variant([&](auto& m) { m[key] = nlohmann::json::array(); });
    variant([&](auto& m) { m[key] = "x"; });
    variant([&](auto& m) { m[key] = 1; });
  }
  variant([&](auto& m) { m["step_name"] = 1; });
  std::vector<std::string> texts;
  for (const auto& m : refused)
    texts.push_back(m.dump());
  texts.push_back("[1, 2]");
  texts.push_back("\"step\"");
  texts.push_back("null");
  // A number beyond a double's range: jsonb keeps it, the parser refuses it.
  auto huge = base.dump();
  huge.insert(huge.size() - 1, ", \"big\": 1e400");
  texts.push_back(huge);
  auto huge_input = base;
  huge_input["inputs"] = nlohmann::json::object();
  auto text = huge_input.dump();
  text.replace(text.find("\"inputs\":{}"), 11, "\"inputs\":{\"n\":-1e309}");
  texts.push_back(text);
  // ... at any depth, in arrays too.
  auto deep = base;
  deep["context"] = nlohmann::json::object();
  text = deep.dump();
  text.replace(text.find("\"context\":{}"), 12, "\"context\":{\"a\":[1,{\"b\":[2e308]}]}");
  texts.push_back(text);

  pqxx::work tx{conn};
  CHECK(tx.exec_params1("SELECT tasker_is_step_message($1::jsonb)", base.dump())[0].as<bool>());
  CHECK(tx.exec_params1("SELECT tasker_is_step_message($1::jsonb)",
                        nlohmann::json(base).dump())[0]
          .as<bool>());
  int parser_refused = 0;
  for (const auto& t : texts) {
    // What the worker parses is the text PostgreSQL gives back.
    auto stored = tx.exec_params1("SELECT $1::jsonb::text", t)[0].as<std::string>();
    bool parsed = true;
    try {
      messaging::parse_step_message_text(stored, std::numeric_limits<std::size_t>::max());
    } catch (const messaging::wire_error&) {
      parsed = false;
    }
    INFO(stored.substr(0, 200));
    CHECK_FALSE(parsed);
    parser_refused += parsed ? 0 : 1;
    CHECK_FALSE(tx.exec_params1("SELECT tasker_is_step_message($1::jsonb)", t)[0].as<bool>());
  }
  CHECK(parser_refused == static_cast<int>(texts.size()));
}

TEST_CASE_FIXTURE(worker_fixture, "four workers process many messages in parallel and no step "
                                  "gets two results") {
  // Each handler holds on until a second one runs at the same time (or a
  // deadline passes): peak > 1 proves parallel work without timing it.
  auto running = std::make_shared<std::atomic<int>>(0);
  auto peak = std::make_shared<std::atomic<int>>(0);
  auto reg = make_builtin_registry();
  reg->register_handler("overlap", [running, peak](const messaging::step_message&) {
    int now = ++*running;
    int p = peak->load();
    while (now > p && !peak->compare_exchange_weak(p, now)) {
    }
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (*peak < 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    --*running;
    return handler_result::ok();
  });
  std::vector<messaging::step_template> steps;
  for (int i = 0; i < 40; ++i) {
    messaging::step_template s;
    s.name = "s" + std::to_string(i);
    s.handler = "overlap";
    steps.push_back(s);
  }
  auto msgs = enqueue_task(steps);
  send(msgs);
  auto o = options(4);
  o.batch_size = 3;
  start(o, reg);
  REQUIRE(eventually([&] { return results().size() >= 40; }, 120s));
  CHECK(eventually([&] { return queue_length(ns_queue) == 0; }));
  auto all = results();
  CHECK(all.size() == 40);
  std::map<std::string, int> per_step;
  for (const auto& r : all)
    ++per_step[r.step_uuid];
  CHECK(per_step.size() == 40);
  for (const auto& [step, n] : per_step)
    CHECK_MESSAGE(n == 1, step);
  CHECK(*peak >= 2);
  CHECK(status().workers == 4);
}

TEST_CASE_FIXTURE(worker_fixture, "each message of a batch the claim keeps stays hidden until "
                                  "every step up to it could have timed out") {
  // The first step holds the batch until the test has looked at the queue.
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto reg = make_builtin_registry();
  reg->register_handler("hold", [release](const messaging::step_message&) {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!*release && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    return handler_result::ok();
  });
  std::vector<messaging::step_template> steps;
  for (int t : {100, 200, 5}) {
    messaging::step_template s;
    s.name = "s" + std::to_string(t);
    s.handler = "hold";
    s.timeout_seconds = t;
    // Messages the claim keeps (see above); the ones it consumes are gone.
    s.inputs = {{"pad", 1.5e308}};
    steps.push_back(s);
  }
  auto o = options(1);
  o.batch_size = 3;
  start(o, reg);
  // A new actor claims one step, then twice as many while they are quick:
  // three quick steps (claims of one and two) bring its claim to three.
  std::vector<messaging::step_template> quick(3);
  for (std::size_t i = 0; i < quick.size(); ++i) {
    quick[i].name = "q" + std::to_string(i);
    quick[i].handler = "noop";
  }
  send(enqueue_task(quick));
  REQUIRE(eventually([&] { return results().size() == 3; }));
  send(enqueue_task(steps));
  REQUIRE(eventually([&] {
    pqxx::work tx{conn};
    return tx.exec1("SELECT count(*) FROM tasker_mq.q_shop_queue WHERE vt > now()")[0]
             .as<int>() == 3;
  }));
  std::vector<double> hidden;
  {
    pqxx::work tx{conn};
    for (const auto& row : tx.exec("SELECT extract(epoch FROM vt - now())::float8"
                                   " FROM tasker_mq.q_shop_queue ORDER BY msg_id"))
      hidden.push_back(row[0].as<double>());
  }
  *release = true;
  // timeout + 30 s each, summed (130, 360, 395), but never less than the
  // default step timeout + 30 s (330): a message is hidden at least as long
  // as an unknown step could take.
  const double at_least = messaging::step_message{}.timeout_seconds + visibility_margin_seconds;
  REQUIRE(at_least == 330);
  REQUIRE(hidden.size() == 3);
  CHECK(hidden[0] == doctest::Approx(330).epsilon(0.02));
  CHECK(hidden[1] == doctest::Approx(360).epsilon(0.02));
  CHECK(hidden[2] == doctest::Approx(395).epsilon(0.02));
  REQUIRE(eventually([&] { return results().size() == 6; }));
}

TEST_CASE_FIXTURE(worker_fixture, "a worker actor claims one step while it does not know its "
                                  "handlers' pace, and no more than fit its claim horizon") {
  // Each step holds until released, so the claims can be seen in the queue.
  auto release = std::make_shared<std::atomic<int>>(0);
  auto reg = make_builtin_registry();
  reg->register_handler("slow", [release](const messaging::step_message&) {
    std::this_thread::sleep_for(claim_horizon); // one step fills the horizon
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (*release == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    return handler_result::ok();
  });
  std::vector<messaging::step_template> steps(6);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    steps[i].name = "s" + std::to_string(i);
    steps[i].handler = "slow";
  }
  auto msgs = enqueue_task(steps);
  send(msgs);
  auto o = options(1);
  o.batch_size = 5;
  start(o, reg);
  auto running = [&] {
    pqxx::work tx{conn};
    return tx.exec1("SELECT count(*) FROM workflow_steps WHERE current_state = 'in_progress'")[0]
             .as<int>();
  };
  REQUIRE(eventually([&] { return running() == 1; }));
  std::this_thread::sleep_for(200ms); // a larger claim would have started more by now
  CHECK(running() == 1);
  CHECK(queue_length(ns_queue) == 5);
  *release = 1;
  // The rest follow, one claim after another.
  REQUIRE(eventually([&] { return results().size() == 6; }));
  CHECK(queue_length(ns_queue) == 0);
}

TEST_CASE_FIXTURE(worker_fixture, "an actor whose claim read fewer messages than it asked for "
                                  "waits for the next send instead of reading the queue again") {
  auto o = options(1);
  o.batch_size = 8;
  // Sends and rings wake the actor; its fallback poll is longer than any
  // pause below (and short enough for the group to stop promptly at the end).
  o.poll_interval = 5s;
  start(o);
  // Quick steps grow the claim: claims of one and two read full batches and
  // are read again at once, and the next reads none.
  std::vector<messaging::step_template> quick(3);
  for (std::size_t i = 0; i < quick.size(); ++i) {
    quick[i].name = "q" + std::to_string(i);
    quick[i].handler = "noop";
  }
  send(enqueue_task(quick));
  REQUIRE(eventually([&] { return status().steps_run == 3; }));
  // Once the actor waits, its count stands still (a notification that came
  // while it was reading may have woken it once more for nothing).
  auto settled = status().claims;
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(300ms);
    const auto now = status().claims;
    if (now == settled)
      break;
    settled = now;
  }
  CHECK(settled >= 3);
  // One message for a claim of four: read once, then the actor waits.
  send(enqueue_one("noop"));
  REQUIRE(eventually([&] { return status().steps_run == 4; }));
  std::this_thread::sleep_for(300ms);
  CHECK(status().claims == settled + 1);
  // The next send wakes it.
  send(enqueue_one("noop"));
  REQUIRE(eventually([&] { return status().steps_run == 5; }));
  std::this_thread::sleep_for(300ms);
  CHECK(status().claims == settled + 2);
}

TEST_CASE_FIXTURE(worker_fixture, "a graceful stop finishes the current step and posts its "
                                  "result before the group exits") {
  auto msgs = enqueue_one("sleep", {{"ms", 1500}});
  send(msgs);
  start(options(2));
  REQUIRE(eventually(
    [&] { return state_of(msgs[0].step_uuid) == resources::step_state::in_progress; }));
  stop(group);
  // The group is gone only after the step finished, so the result is there now.
  auto all = results();
  REQUIRE(all.size() == 1);
  CHECK(all[0].status == messaging::step_status::success);
  CHECK(queue_length(ns_queue) == 0);
}

TEST_CASE_FIXTURE(worker_fixture, "an invalid namespace is refused before anything is spawned") {
  auto o = options();
  o.namespace_name = "Bad-Name";
  cfg = std::make_unique<caf::actor_system_config>();
  sys = std::make_unique<caf::actor_system>(*cfg);
  CHECK_THROWS_AS(spawn_worker_group(*sys, o, make_builtin_registry()), std::invalid_argument);
}
