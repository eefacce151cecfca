#pragma once
/// Shared setup for the task-store tests: small templates and shortcuts that
/// drive steps through their states with the real transition functions.

#include "messaging/task_template.hpp"
#include "resources/task_store.hpp"

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include <map>
#include <string>
#include <vector>

namespace tasker::resources::test {

/// A savepoint that is rolled back unless released. (pqxx 6.4's
/// subtransaction issues its SAVEPOINT lazily and exec_params does not
/// trigger it, so a failed parameterized call would abort the outer work.)
class savepoint {
public:
  /// Sets the savepoint.
  explicit savepoint(pqxx::transaction_base& tx) : tx_(tx) { tx_.exec0("SAVEPOINT store_test"); }
  ~savepoint() {
    if (!released_)
      tx_.exec0("ROLLBACK TO SAVEPOINT store_test");
  }
  savepoint(const savepoint&) = delete;
  savepoint& operator=(const savepoint&) = delete;

  /// Keeps what was done since the savepoint.
  void release() {
    tx_.exec0("RELEASE SAVEPOINT store_test");
    released_ = true;
  }

private:
  pqxx::transaction_base& tx_;
  bool released_ = false;
};

/// A template of independent steps (none depends on another).
inline messaging::task_template flat_template(const std::string& name, int steps,
                                              std::int32_t retry_limit = 3, bool retryable = true) {
  messaging::task_template t;
  t.namespace_name = "shop";
  t.name = name;
  t.version = "1.0.0";
  for (int i = 0; i < steps; ++i) {
    messaging::step_template s;
    s.name = "s" + std::to_string(i);
    s.handler = "noop";
    s.retry_limit = retry_limit;
    s.retryable = retryable;
    t.steps.push_back(s);
  }
  return t;
}

/// a -> b, a -> c, {b, c} -> d.
inline messaging::task_template diamond_template() {
  messaging::task_template t;
  t.namespace_name = "shop";
  t.name = "diamond";
  t.version = "1.0.0";
  auto step = [](std::string name, std::vector<std::string> deps) {
    messaging::step_template s;
    s.name = std::move(name);
    s.handler = "noop";
    s.depends_on = std::move(deps);
    return s;
  };
  t.steps = {step("d", {"b", "c"}), step("b", {"a"}), step("c", {"a"}), step("a", {})};
  return t;
}

/// A request for `tmpl` with the given context.
inline task_request request_for(const messaging::task_template& tmpl, nlohmann::json context,
                                std::int32_t priority = 0) {
  task_request r;
  r.namespace_name = tmpl.namespace_name;
  r.task_name = tmpl.name;
  r.task_version = tmpl.version;
  r.context = std::move(context);
  r.priority = priority;
  r.initiator = "tests";
  return r;
}

/// Registers `tmpl` and creates one task of it; returns the task uuid.
inline std::string make_task(pqxx::transaction_base& tx, const messaging::task_template& tmpl,
                             nlohmann::json context = nlohmann::json::object(),
                             std::int32_t priority = 0) {
  register_template(tx, tmpl);
  return create_task(tx, request_for(tmpl, std::move(context), priority)).task_uuid;
}

/// Step name -> step uuid of a task.
inline std::map<std::string, std::string> step_ids(pqxx::transaction_base& tx,
                                                   const std::string& task_uuid) {
  std::map<std::string, std::string> out;
  for (const auto& row : tx.exec_params(
           "SELECT step_name, workflow_step_uuid FROM tasker_task_steps($1::uuid)", task_uuid))
    out[row[0].as<std::string>()] = row[1].as<std::string>();
  return out;
}

/// Drives steps through `path`, one transition per state.
inline void drive(pqxx::transaction_base& tx, const std::vector<std::string>& steps,
                  std::initializer_list<step_state> path) {
  for (auto s : path)
    transition_steps(tx, steps, s);
}

/// pending -> enqueued -> in_progress -> complete.
inline void complete_steps(pqxx::transaction_base& tx, const std::vector<std::string>& steps) {
  drive(tx, steps, {step_state::enqueued, step_state::in_progress, step_state::complete});
}

/// Names of the ready steps of one task, in topological order.
inline std::vector<std::string> ready_names(pqxx::transaction_base& tx,
                                            const std::string& task_uuid) {
  std::vector<std::string> out;
  for (const auto& s : ready_steps(tx, {task_uuid}))
    out.push_back(s.step_name);
  return out;
}

} // namespace tasker::resources::test
