#pragma once
/// The integration harness: a scratch database, `tasker-node` subprocesses
/// on it (started with the `test` environment of the repo's configuration),
/// template registration, task submission through the task request queue,
/// and polling helpers. Nothing is simulated: every test drives real nodes
/// and workers through PostgreSQL.

#include "tests/support/scratch_db.hpp"
#include "tools/common/child_process.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tasker::testing {

using tools::child_process;

/// The source tree: TASKER_SOURCE_DIR (set by ctest), else the one the
/// harness was built from.
std::string source_dir();

/// A scratch database plus the processes running on it.
class cluster {
public:
  cluster();
  ~cluster();

  /// The database every process uses.
  const scratch_db& db() const noexcept { return db_; }

  /// Registers a template (TOML text) and creates its namespace queue.
  void register_template(const std::string& toml_text);

  /// Sends `count` task requests for namespace/name@1.0.0, each with a
  /// distinct context {"n": i, ...extra}; returns their request ids.
  std::vector<std::string> submit(const std::string& ns, const std::string& name, int count,
                                  const nlohmann::json& extra = nlohmann::json::object());

  /// Sends raw JSON messages to the task request queue.
  void send_raw_requests(const std::vector<nlohmann::json>& messages);

  /// Starts `tasker-node run --env test ... <extra>` and waits until it reports running;
  /// `env` is added to the node's environment.
  child_process& start_node(const std::string& node_id,
                            const std::vector<std::string>& extra = {},
                            const std::map<std::string, std::string>& env = {});

  /// Starts `tasker-node run --env test ... <extra>` without waiting for it,
  /// e.g. to see it refuse to start.
  child_process& launch_node(const std::string& node_id,
                             const std::vector<std::string>& extra = {},
                             const std::map<std::string, std::string>& env = {});

  /// Starts `tasker-node worker --namespace ns ... <extra>`.
  child_process& start_worker(const std::string& ns, const std::vector<std::string>& extra = {},
                              const std::map<std::string, std::string>& env = {});

  /// One integer from `sql` (its first column of its first row).
  std::int64_t scalar(const std::string& sql);

  /// Polls `sql` until it yields `expected`, up to `timeout`; the last value seen.
  std::int64_t wait_for(const std::string& sql, std::int64_t expected,
                        std::chrono::seconds timeout);

  /// Output of every process started so far, for failure messages.
  std::string logs() const;

private:
  std::vector<std::string> common_args() const;

  scratch_db db_;
  std::string log_dir_;
  std::vector<std::unique_ptr<child_process>> processes_;
};

/// SQL counting the tasks in `state`.
std::string tasks_in(const std::string& state);

} // namespace tasker::testing
