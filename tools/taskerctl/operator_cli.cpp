// Registers the operator subcommands (template, task, queue, dlq) on the CLI;
// the work itself is in the command functions of operator_commands.hpp.
#include "config/cli_options.hpp"
#include "tools/taskerctl/commands.hpp"
#include "tools/taskerctl/operator_commands.hpp"
#include "tools/taskerctl/support.hpp"

#include <iostream>
#include <memory>

namespace tasker::tools::ctl {

namespace {

/// The configuration flags and --json every operator command takes.
struct common_flags {
  std::shared_ptr<config::cli_config_options> config;
  std::shared_ptr<bool> json = std::make_shared<bool>(false);
};

common_flags add_common(CLI::App& cmd) {
  common_flags f{config::add_config_options(cmd), std::make_shared<bool>(false)};
  cmd.add_flag("--json", *f.json, "print JSON for scripts instead of text for people");
  return f;
}

/// Loads the configuration the flags describe, then runs `body` with it.
int with_context(const common_flags& f, const std::function<int(const ctl_context&)>& body) {
  ctl_context ctx;
  int rc = run_guarded(std::cerr, [&] {
    auto loaded = config::load_from_cli(*f.config, std::cerr);
    ctx.database_url = loaded.config.database.url;
    ctx.queues = loaded.config.queues.names;
    ctx.json = *f.json;
    return exit_ok;
  });
  return rc != exit_ok ? rc : body(ctx);
}

/// Sets `run` to call `body` with the loaded context once `cmd` was parsed.
void on_parsed(CLI::App* cmd, command_fn& run, common_flags f,
               std::function<int(const ctl_context&)> body) {
  cmd->callback([&run, f, body] { run = [f, body] { return with_context(f, body); }; });
}

} // namespace

void add_template_command(CLI::App& app, command_fn& run) {
  auto* tmpl = app.add_subcommand("template", "register and inspect task templates");
  tmpl->require_subcommand(1);

  auto* reg = tmpl->add_subcommand("register", "validate and register template files");
  auto files = std::make_shared<std::vector<std::string>>();
  reg->add_option("files", *files, "template TOML files")->required();
  on_parsed(reg, run, add_common(*reg), [files](const ctl_context& ctx) {
    return template_register(ctx, {files->begin(), files->end()}, std::cout, std::cerr);
  });

  auto* list = tmpl->add_subcommand("list", "list registered templates");
  on_parsed(list, run, add_common(*list),
            [](const ctl_context& ctx) { return template_list(ctx, std::cout, std::cerr); });

  auto* show = tmpl->add_subcommand("show", "show one template's steps");
  auto ref = std::make_shared<std::string>();
  show->add_option("template", *ref, "NAMESPACE/NAME[@VERSION]")->required();
  on_parsed(show, run, add_common(*show), [ref](const ctl_context& ctx) {
    return template_show(ctx, *ref, std::cout, std::cerr);
  });
}

void add_task_command(CLI::App& app, command_fn& run) {
  auto* task = app.add_subcommand("task", "submit, inspect and act on tasks");
  task->require_subcommand(1);

  auto* submit = task->add_subcommand("submit", "request a task from a registered template");
  auto o = std::make_shared<submit_options>();
  submit->add_option("template", o->ref, "NAMESPACE/NAME[@VERSION]")->required();
  submit->add_option("--context", o->context_json, "the task's input, a JSON object");
  submit->add_option("--priority", o->priority, "higher is claimed first (-1000..1000)");
  submit->add_option("--initiator", o->initiator, "who asks for the task");
  submit->add_option("--reason", o->reason, "why the task is asked for");
  submit->add_option("--wait-timeout", o->wait_timeout_seconds,
                     "seconds to wait for a node to create the task (default 30)");
  auto no_wait = std::make_shared<bool>(false);
  auto* no_wait_flag =
      submit->add_flag("--no-wait", *no_wait, "print the request id without waiting");
  auto* direct =
      submit->add_flag("--direct", o->direct, "create the task in this process, without a node");
  no_wait_flag->excludes(direct);
  on_parsed(submit, run, add_common(*submit), [o, no_wait](const ctl_context& ctx) {
    auto opts = *o;
    opts.wait = !*no_wait;
    return task_submit(ctx, opts, std::cout, std::cerr);
  });

  auto* status = task->add_subcommand("status", "show a task and its steps");
  auto id = std::make_shared<std::string>();
  status->add_option("id", *id, "task uuid")->required();
  on_parsed(status, run, add_common(*status),
            [id](const ctl_context& ctx) { return task_status(ctx, *id, std::cout, std::cerr); });

  auto* list = task->add_subcommand("list", "list tasks, newest first");
  auto filter = std::make_shared<resources::task_filter>();
  list->add_option("--state", filter->state, "only tasks in this state");
  list->add_option("--namespace", filter->namespace_name, "only tasks of this namespace");
  list->add_option("--limit", filter->limit, "at most this many (default 50)");
  on_parsed(list, run, add_common(*list), [filter](const ctl_context& ctx) {
    return task_list(ctx, *filter, std::cout, std::cerr);
  });

  struct action_spec {
    const char* name;
    const char* help;
    task_action action;
  };
  for (auto spec :
       {action_spec{"cancel", "cancel an unfinished task", task_action::cancel},
        action_spec{"retry", "run a failed task's failed steps again", task_action::retry},
        action_spec{"resolve", "settle a task by hand (resolved_manually)",
                    task_action::resolve}}) {
    auto* cmd = task->add_subcommand(spec.name, spec.help);
    auto task_id = std::make_shared<std::string>();
    auto reason = std::make_shared<std::string>();
    cmd->add_option("id", *task_id, "task uuid")->required();
    cmd->add_option("--reason", *reason, "recorded in the task's transition history");
    on_parsed(cmd, run, add_common(*cmd), [spec, task_id, reason](const ctl_context& ctx) {
      return task_act(ctx, spec.action, *task_id, *reason, std::cout, std::cerr);
    });
  }
}

void add_queue_command(CLI::App& app, command_fn& run) {
  auto* queue = app.add_subcommand("queue", "message queue statistics");
  queue->require_subcommand(1);
  auto* stats = queue->add_subcommand("stats", "length, visible, oldest age, sent, archived");
  on_parsed(stats, run, add_common(*stats),
            [](const ctl_context& ctx) { return queue_stats(ctx, std::cout, std::cerr); });
}

void add_dlq_command(CLI::App& app, command_fn& run) {
  auto* dlq = app.add_subcommand("dlq", "dead-lettered (archived) messages");
  dlq->require_subcommand(1);

  auto* list = dlq->add_subcommand("list", "archived messages, most recent first");
  auto queue = std::make_shared<std::string>();
  auto limit = std::make_shared<int>(20);
  list->add_option("queue", *queue, "only this queue (default: every queue)");
  list->add_option("--limit", *limit, "at most this many per queue (default 20)");
  on_parsed(list, run, add_common(*list), [queue, limit](const ctl_context& ctx) {
    return dlq_list(ctx, *queue, *limit, std::cout, std::cerr);
  });

  auto* redrive = dlq->add_subcommand("redrive", "move archived messages back into their queue");
  auto target = std::make_shared<std::string>();
  auto ids = std::make_shared<std::vector<std::int64_t>>();
  auto all = std::make_shared<bool>(false);
  redrive->add_option("queue", *target, "the queue")->required();
  redrive->add_option("msg_ids", *ids, "archived message ids");
  redrive->add_flag("--all", *all, "every archived message of the queue");
  on_parsed(redrive, run, add_common(*redrive), [target, ids, all](const ctl_context& ctx) {
    return dlq_redrive(ctx, *target, *ids, *all, std::cout, std::cerr);
  });
}

} // namespace tasker::tools::ctl
