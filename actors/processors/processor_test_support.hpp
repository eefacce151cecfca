#pragma once
/// Shared setup for the processor tests: a migrated scratch database with the
/// orchestration queues, templates registered from TOML, and a test that acts
/// as the worker through the queues and the wire JSON.

#include "actors/processors/processor_types.hpp"
#include "actors/processors/processors.hpp"
#include "messaging/queue_client.hpp"
#include "messaging/task_template.hpp"
#include "messaging/wire.hpp"
#include "resources/store_execution.hpp"
#include "resources/task_store.hpp"
#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace tasker::actors::test {

/// A diamond a -> {b, c} -> d in namespace "shop"; `step_options` is appended
/// to every step (e.g. retry_limit, backoff).
inline std::string diamond_toml(const std::string& name = "diamond",
                                const std::string& step_options = "") {
  std::string out = "namespace = \"shop\"\nname = \"" + name + "\"\nversion = \"1.0.0\"\n";
  auto step = [&](const std::string& n, const std::string& deps) {
    out += "[[steps]]\nname = \"" + n + "\"\nhandler = \"noop\"\ndepends_on = [" + deps + "]\n" +
           step_options + "\n";
  };
  step("a", "");
  step("b", "\"a\"");
  step("c", "\"a\"");
  step("d", "\"b\", \"c\"");
  return out;
}

/// A database with the three queues and a node's processors.
struct pipeline {
  testing::scratch_db db;
  pqxx::connection conn = db.connect();
  config::tasker_config cfg;
  std::string node = "node-a";

  pipeline() {
    pqxx::work tx{conn};
    messaging::queue_client::create_queue(tx, cfg.queues.names.task_requests);
    messaging::queue_client::create_queue(tx, cfg.queues.names.step_results);
    messaging::queue_client::create_queue(tx, "shop_queue");
    tx.commit();
  }

  /// Registers a template given as TOML.
  void register_toml(const std::string& toml) {
    pqxx::work tx{conn};
    resources::register_template(tx, messaging::parse_template_toml(toml, "test.toml"));
    tx.commit();
  }

  /// Sends a message body to the task request queue.
  std::int64_t send_request(const nlohmann::json& body) {
    pqxx::work tx{conn};
    auto id = messaging::queue_client::send(tx, cfg.queues.names.task_requests, body);
    tx.commit();
    return id;
  }

  /// A valid request for shop/<name>@1.0.0.
  static nlohmann::json request(const std::string& name, nlohmann::json context) {
    return {{"request_id", "00000000-0000-4000-8000-000000000001"},
            {"namespace", "shop"},
            {"task_name", name},
            {"task_version", "1.0.0"},
            {"context", std::move(context)},
            {"priority", 0},
            {"initiator", "tests"},
            {"reason", "test"}};
  }

  /// Runs one batch of a processor type on this connection.
  batch_outcome run(config::executor_type type, std::size_t n = 50) {
    return make_processor(type, cfg, node)->process_batch(conn, n);
  }

  /// Claims, enqueues: the steps the worker can now read.
  void claim_and_enqueue() {
    run(config::executor_type::task_claimer);
    run(config::executor_type::step_enqueuer);
  }

  /// Takes every visible step message of the shop queue (as a worker would).
  std::vector<messaging::step_message> take_steps() {
    pqxx::work tx{conn};
    std::vector<messaging::step_message> out;
    std::vector<std::int64_t> ids;
    for (const auto& m : messaging::queue_client::read(tx, "shop_queue", 60, 100)) {
      out.push_back(messaging::parse_step_message(m.message));
      ids.push_back(m.msg_id);
    }
    if (!ids.empty())
      messaging::queue_client::remove(tx, "shop_queue", ids);
    tx.commit();
    return out;
  }

  /// Posts a step result (wire JSON) to the results queue.
  void post(const messaging::step_result& r) { post_json(r.to_json()); }

  /// Posts any body to the results queue.
  void post_json(const nlohmann::json& body) {
    pqxx::work tx{conn};
    messaging::queue_client::send(tx, cfg.queues.names.step_results, body);
    tx.commit();
  }

  /// A success result for a step message.
  static messaging::step_result success(const messaging::step_message& m, nlohmann::json results) {
    messaging::step_result r;
    r.task_uuid = m.task_uuid;
    r.step_uuid = m.step_uuid;
    r.status = messaging::step_status::success;
    r.results = std::move(results);
    r.attempt = m.attempt;
    return r;
  }

  /// A failure result for a step message.
  static messaging::step_result failure(const messaging::step_message& m, bool retryable = true) {
    messaging::step_result r;
    r.task_uuid = m.task_uuid;
    r.step_uuid = m.step_uuid;
    r.status = messaging::step_status::failed;
    r.error = messaging::step_error{"boom", retryable, std::nullopt};
    r.attempt = m.attempt;
    return r;
  }

  /// A single value from SQL.
  template <class T>
  T scalar(const std::string& sql) {
    pqxx::work tx{conn};
    auto v = tx.exec1(sql)[0].as<T>();
    tx.commit();
    return v;
  }

  /// Step name -> current state of the only task.
  std::map<std::string, std::string> step_states() {
    pqxx::work tx{conn};
    std::map<std::string, std::string> out;
    for (const auto& row : tx.exec("SELECT name, current_state FROM workflow_steps"))
      out[row[0].as<std::string>()] = row[1].as<std::string>();
    tx.commit();
    return out;
  }

  /// The current state of the only task.
  std::string task_state() { return scalar<std::string>("SELECT current_state FROM tasks"); }
};

/// Names of step messages, sorted.
inline std::vector<std::string> names(const std::vector<messaging::step_message>& steps) {
  std::vector<std::string> out;
  for (const auto& s : steps)
    out.push_back(s.step_name);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace tasker::actors::test
