#include "tests/integration/harness.hpp"

#include "messaging/queue_client.hpp"
#include "messaging/task_template.hpp"
#include "messaging/wire.hpp"
#include "resources/store_templates.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

namespace tasker::testing {

using namespace std::chrono_literals;

std::string source_dir() {
  const char* dir = std::getenv("TASKER_SOURCE_DIR");
  return dir ? dir : TASKER_INTEGRATION_SOURCE_DIR;
}

namespace {

std::string request_uuid(std::uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012llu",
                static_cast<unsigned long long>(n));
  return buf;
}

} // namespace

cluster::cluster() {
  log_dir_ = (std::filesystem::temp_directory_path() / ("tasker-it-" + db_.name())).string();
  std::filesystem::create_directories(log_dir_);
  auto conn = db_.connect();
  pqxx::work tx{conn};
  messaging::queue_client::create_queue(tx, "orchestration_task_requests");
  messaging::queue_client::create_queue(tx, "orchestration_step_results");
  tx.commit();
}

cluster::~cluster() {
  // Processes end (SIGTERM, then SIGKILL) before the database is dropped.
  processes_.clear();
  std::error_code ignored;
  std::filesystem::remove_all(log_dir_, ignored);
}

void cluster::register_template(const std::string& toml_text) {
  auto tmpl = messaging::parse_template_toml(toml_text, "integration template");
  auto conn = db_.connect();
  pqxx::work tx{conn};
  resources::register_template(tx, tmpl);
  messaging::queue_client::create_queue(tx, tmpl.namespace_name + "_queue");
  tx.commit();
}

std::vector<std::string> cluster::submit(const std::string& ns, const std::string& name,
                                         int count, const nlohmann::json& extra) {
  static std::uint64_t next = 1;
  std::vector<nlohmann::json> messages;
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    messaging::task_request req;
    req.request_id = request_uuid(next++);
    req.namespace_name = ns;
    req.task_name = name;
    req.task_version = "1.0.0";
    req.context = extra;
    req.context["n"] = i;
    req.initiator = "integration";
    req.reason = "test";
    ids.push_back(req.request_id);
    messages.push_back(req.to_json());
  }
  send_raw_requests(messages);
  return ids;
}

void cluster::send_raw_requests(const std::vector<nlohmann::json>& messages) {
  auto conn = db_.connect();
  pqxx::work tx{conn};
  messaging::queue_client::send_batch(tx, "orchestration_task_requests", messages);
  tx.commit();
}

std::vector<std::string> cluster::common_args() const {
  return {"--env", "test", "--config-dir", source_dir() + "/config", "--database-url", db_.url()};
}

child_process& cluster::start_node(const std::string& node_id,
                                   const std::vector<std::string>& extra,
                                   const std::map<std::string, std::string>& env) {
  auto& p = launch_node(node_id, extra, env);
  REQUIRE_MESSAGE(p.wait_for_output("running", 60s), "node did not start:\n" << p.output());
  return p;
}

child_process& cluster::launch_node(const std::string& node_id,
                                    const std::vector<std::string>& extra,
                                    const std::map<std::string, std::string>& env) {
  std::vector<std::string> args{"run", "--node-id", node_id};
  for (auto& a : common_args())
    args.push_back(a);
  args.insert(args.end(), extra.begin(), extra.end());
  auto log = log_dir_ + "/" + node_id + "-" + std::to_string(processes_.size()) + ".log";
  processes_.push_back(std::make_unique<child_process>(TASKER_NODE_BIN, args, env, log));
  return *processes_.back();
}

child_process& cluster::start_worker(const std::string& ns,
                                     const std::vector<std::string>& extra,
                                     const std::map<std::string, std::string>& env) {
  std::vector<std::string> args{"worker", "--namespace", ns};
  for (auto& a : common_args())
    args.push_back(a);
  args.insert(args.end(), extra.begin(), extra.end());
  auto log = log_dir_ + "/worker-" + std::to_string(processes_.size()) + ".log";
  processes_.push_back(std::make_unique<child_process>(TASKER_NODE_BIN, args, env, log));
  return *processes_.back();
}

std::int64_t cluster::scalar(const std::string& sql) {
  auto conn = db_.connect();
  pqxx::read_transaction tx{conn};
  auto row = tx.exec1(sql);
  return row[0].is_null() ? 0 : row[0].as<std::int64_t>();
}

std::int64_t cluster::wait_for(const std::string& sql, std::int64_t expected,
                               std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto conn = db_.connect();
  std::int64_t value = -1;
  while (true) {
    {
      pqxx::read_transaction tx{conn};
      auto row = tx.exec1(sql);
      value = row[0].is_null() ? 0 : row[0].as<std::int64_t>();
    }
    if (value == expected || std::chrono::steady_clock::now() >= deadline)
      return value;
    std::this_thread::sleep_for(200ms);
  }
}

std::string cluster::logs() const {
  std::string out;
  for (const auto& p : processes_)
    out += "---- pid " + std::to_string(p->pid()) + "\n" + p->output();
  return out;
}

std::string tasks_in(const std::string& state) {
  return "SELECT count(*) FROM tasks WHERE current_state = '" + state + "'";
}

} // namespace tasker::testing
