#pragma once
/// The operator subcommands of `taskerctl` as library functions: each takes
/// its parsed arguments and two streams and returns the exit code (0 ok,
/// 1 runtime error, 2 invalid usage or input), so tests call them directly.
/// With `json` set, each prints one JSON document instead of text for people.

#include "config/tasker_config.hpp"
#include "resources/store_operator.hpp"

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace tasker::tools::ctl {

/// Where the commands act and how they print.
struct ctl_context {
  std::string database_url;          ///< libpq URL of the Tasker database
  config::queue_names_config queues; ///< request queue and namespace queue names
  bool json = false;                 ///< print JSON for scripts
};

// -- templates ----------------------------------------------------------------

/// `template register FILE...`: validates every file first (nothing is
/// registered when one is invalid), then registers each template and creates
/// its namespace queue in one transaction.
int template_register(const ctl_context& ctx, const std::vector<std::filesystem::path>& files,
                      std::ostream& out, std::ostream& err);

/// `template list`: every registered template version.
int template_list(const ctl_context& ctx, std::ostream& out, std::ostream& err);

/// `template show NS/NAME[@VERSION]`: the steps of one template (the latest
/// version when none is named); with json, the stored template document.
int template_show(const ctl_context& ctx, const std::string& ref, std::ostream& out,
                  std::ostream& err);

// -- tasks --------------------------------------------------------------------

/// The arguments of `task submit`.
struct submit_options {
  std::string ref;                     ///< NAMESPACE/NAME[@VERSION]
  std::string context_json = "{}";     ///< --context: a JSON object
  std::int32_t priority = 0;           ///< --priority
  std::string initiator = "taskerctl"; ///< --initiator
  std::string reason;                  ///< --reason
  double wait_timeout_seconds = 30;    ///< --wait-timeout
  bool wait = true;                    ///< false with --no-wait
  bool direct = false;                 ///< --direct: create the task here, not through a node
};

/// `task submit`: sends a task request to the request queue and waits for a
/// node to create the task (prints its uuid), or prints the request id with
/// --no-wait; with --direct creates the task in this process. A wait that
/// times out is a runtime error that says no node processed the request.
int task_submit(const ctl_context& ctx, const submit_options& options, std::ostream& out,
                std::ostream& err);

/// `task status ID`: the task, its execution status and its steps.
int task_status(const ctl_context& ctx, const std::string& task_uuid, std::ostream& out,
                std::ostream& err);

/// `task list`: tasks matching the filter, newest first.
int task_list(const ctl_context& ctx, const resources::task_filter& filter, std::ostream& out,
              std::ostream& err);

/// What `task cancel|retry|resolve` does.
enum class task_action { cancel, retry, resolve };

/// `task cancel|retry|resolve ID`: applies the action; a task in a state the
/// action does not apply to is refused (exit 1) naming its state.
int task_act(const ctl_context& ctx, task_action action, const std::string& task_uuid,
             const std::string& reason, std::ostream& out, std::ostream& err);

// -- queues -------------------------------------------------------------------

/// `queue stats`: every queue's length, visible messages, oldest age, total
/// sent and dead-letter count.
int queue_stats(const ctl_context& ctx, std::ostream& out, std::ostream& err);

/// `dlq list [QUEUE]`: archived messages of one queue, or of every queue when
/// `queue` is empty, up to `limit` per queue, most recent first.
int dlq_list(const ctl_context& ctx, const std::string& queue, int limit, std::ostream& out,
             std::ostream& err);

/// `dlq redrive QUEUE MSG_ID...|--all`: moves archived messages back into the
/// queue; ids not in the archive are reported, not an error unless none moved.
int dlq_redrive(const ctl_context& ctx, const std::string& queue,
                const std::vector<std::int64_t>& msg_ids, bool all, std::ostream& out,
                std::ostream& err);

} // namespace tasker::tools::ctl
