// `taskerctl task status|list|cancel|retry|resolve`.
#include "resources/store_operator.hpp"
#include "tools/taskerctl/operator_commands.hpp"
#include "tools/taskerctl/support.hpp"

#include <ostream>

namespace tasker::tools::ctl {

namespace {

nlohmann::json summary_json(const resources::task_summary& t) {
  return {{"task_uuid", t.task_uuid},
          {"namespace", t.namespace_name},
          {"name", t.task_name},
          {"version", t.task_version},
          {"state", t.state},
          {"priority", t.priority},
          {"total_steps", t.total_steps},
          {"finished_steps", t.finished_steps},
          {"claimed_by", t.claimed_by.empty() ? nlohmann::json{} : nlohmann::json(t.claimed_by)},
          {"created_at", t.created_at},
          {"updated_at", t.updated_at}};
}

nlohmann::json or_null(const std::string& s) {
  return s.empty() ? nlohmann::json{} : nlohmann::json(s);
}

std::string or_dash(const std::string& s) {
  return s.empty() ? "-" : s;
}

const char* action_name(task_action a) {
  switch (a) {
  case task_action::cancel:
    return "cancel";
  case task_action::retry:
    return "retry";
  case task_action::resolve:
    return "resolve";
  }
  return "?";
}

} // namespace

int task_status(const ctl_context& ctx, const std::string& task_uuid, std::ostream& out,
                std::ostream& err) {
  return run_guarded(err, [&] {
    require_uuid(task_uuid, "task id");
    auto conn = open_database(ctx.database_url);
    pqxx::read_transaction tx{conn};
    auto st = resources::find_task_status(tx, task_uuid);
    if (!st)
      throw command_failed("task " + task_uuid + " does not exist");
    const auto& t = st->task;
    if (ctx.json) {
      auto doc = summary_json(t);
      doc["initiator"] = st->initiator;
      doc["reason"] = st->reason;
      doc["request_id"] = or_null(st->request_id);
      doc["claimed_at"] = or_null(st->claimed_at);
      doc["context"] = st->context;
      doc["execution_status"] = st->execution_status;
      doc["ready_steps"] = st->ready_steps;
      auto steps = nlohmann::json::array();
      for (const auto& s : st->steps)
        steps.push_back({{"step_uuid", s.step_uuid},
                         {"name", s.name},
                         {"handler", s.handler},
                         {"state", s.state},
                         {"attempts", s.attempts},
                         {"retry_limit", s.retry_limit},
                         {"retryable", s.retryable},
                         {"last_error", or_null(s.last_error)},
                         {"backoff_until", or_null(s.backoff_until)},
                         {"updated_at", s.updated_at}});
      doc["steps"] = std::move(steps);
      out << doc.dump(2) << '\n';
      return exit_ok;
    }
    out << "task       " << t.task_uuid << '\n'
        << "template   " << t.namespace_name << '/' << t.task_name << '@' << t.task_version << '\n'
        << "state      " << t.state << "  (execution: " << st->execution_status << ", "
        << t.finished_steps << '/' << t.total_steps << " steps finished, " << st->ready_steps
        << " ready)\n"
        << "priority   " << t.priority << '\n'
        << "claimed by " << or_dash(t.claimed_by)
        << (st->claimed_at.empty() ? "" : " since " + short_time(st->claimed_at)) << '\n'
        << "initiator  " << or_dash(st->initiator) << '\n'
        << "reason     " << or_dash(st->reason) << '\n'
        << "request    " << or_dash(st->request_id) << '\n'
        << "created    " << short_time(t.created_at) << '\n'
        << "updated    " << short_time(t.updated_at) << '\n'
        << "context    " << excerpt(st->context, 100) << "\n\n";
    text_table table{{"STEP", "HANDLER", "STATE", "ATTEMPTS", "BACKOFF UNTIL", "LAST ERROR"}};
    for (const auto& s : st->steps)
      table.add({s.name, s.handler, s.state,
                 std::to_string(s.attempts) + "/" + std::to_string(s.retry_limit) +
                     (s.retryable ? "" : " (not retryable)"),
                 short_time(s.backoff_until), s.last_error.empty() ? "-" : s.last_error});
    table.print(out);
    return exit_ok;
  });
}

int task_list(const ctl_context& ctx, const resources::task_filter& filter, std::ostream& out,
              std::ostream& err) {
  return run_guarded(err, [&] {
    auto conn = open_database(ctx.database_url);
    pqxx::read_transaction tx{conn};
    auto tasks = resources::list_tasks(tx, filter);
    if (ctx.json) {
      auto doc = nlohmann::json::array();
      for (const auto& t : tasks)
        doc.push_back(summary_json(t));
      out << doc.dump(2) << '\n';
      return exit_ok;
    }
    if (tasks.empty()) {
      out << "no tasks match\n";
      return exit_ok;
    }
    text_table table{
        {"TASK", "TEMPLATE", "STATE", "STEPS DONE", "PRIORITY", "CLAIMED BY", "CREATED AT"}};
    for (const auto& t : tasks)
      table.add({t.task_uuid, t.namespace_name + "/" + t.task_name + "@" + t.task_version, t.state,
                 std::to_string(t.finished_steps) + "/" + std::to_string(t.total_steps),
                 std::to_string(t.priority), or_dash(t.claimed_by), short_time(t.created_at)});
    table.print(out);
    return exit_ok;
  });
}

int task_act(const ctl_context& ctx, task_action action, const std::string& task_uuid,
             const std::string& reason, std::ostream& out, std::ostream& err) {
  return run_guarded(err, [&] {
    require_uuid(task_uuid, "task id");
    auto conn = open_database(ctx.database_url);
    pqxx::work tx{conn};
    nlohmann::json meta = {{"by", "taskerctl"}};
    if (!reason.empty())
      meta["reason"] = reason;
    resources::operator_outcome done;
    switch (action) {
    case task_action::cancel:
      done = resources::cancel_task(tx, task_uuid, meta);
      break;
    case task_action::retry:
      done = resources::retry_task(tx, task_uuid, meta);
      break;
    case task_action::resolve:
      done = resources::resolve_task(tx, task_uuid, meta);
      break;
    }
    tx.commit();
    if (ctx.json) {
      out << nlohmann::json{{"action", action_name(action)},
                            {"task_uuid", done.task_uuid},
                            {"from_state", done.from_state},
                            {"to_state", done.to_state},
                            {"steps_changed", done.steps_changed}}
                 .dump(2)
          << '\n';
      return exit_ok;
    }
    out << "task " << done.task_uuid << ": " << done.from_state << " -> " << done.to_state << " ("
        << done.steps_changed << (done.steps_changed == 1 ? " step" : " steps") << " moved)\n";
    return exit_ok;
  });
}

} // namespace tasker::tools::ctl
