#include "tools/bench/database.hpp"

#include "messaging/queue_client.hpp"
#include "messaging/task_template.hpp"
#include "messaging/wire.hpp"
#include "resources/migrate.hpp"
#include "resources/store_templates.hpp"
#include "tools/bench/templates.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <vector>

namespace tasker::bench {

namespace {

std::string run_capture(const std::string& command) {
  std::array<char, 512> buf{};
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe{popen(command.c_str(), "r"), pclose};
  if (!pipe)
    throw std::runtime_error("cannot run: " + command);
  while (fgets(buf.data(), static_cast<int>(buf.size()), pipe.get()) != nullptr)
    out += buf.data();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
    out.pop_back();
  return out;
}

std::string pg_command(const std::string& root, const std::string& dir, const std::string& verb) {
  return "TASKER_PG_DIR='" + dir + "' '" + root + "/tools/pg.sh' " + verb;
}

} // namespace

std::string database_url(const std::string& url, const std::string& dbname,
                         const std::string& application_name) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos)
    throw std::invalid_argument("--database-url must be a postgresql:// URL: " + url);
  auto query = url.find('?', scheme + 3);
  auto path = url.find('/', scheme + 3);
  std::string tail = query == std::string::npos ? "" : url.substr(query);
  std::string head = url.substr(0, std::min(path, query));
  if (!application_name.empty())
    tail += (tail.empty() ? "?" : "&") + std::string{"application_name="} + application_name;
  return head + "/" + dbname + tail;
}

server::server(const std::string& repo_root, const std::string& url, const std::string& pg_dir)
  : repo_root_(repo_root), pg_dir_(pg_dir), url_(url) {
  if (!url_.empty())
    return;
  // A cluster that was running already (ab.sh leaves it so) stays running.
  const bool running =
      std::system((pg_command(repo_root_, pg_dir_, "status") + " >/dev/null 2>&1").c_str()) == 0;
  url_ = run_capture(pg_command(repo_root_, pg_dir_, "start"));
  if (url_.rfind("postgresql://", 0) != 0)
    throw std::runtime_error("tools/pg.sh start did not print a URL: " + url_);
  owned_ = !running;
  // The latency scenario reads when each task's completion committed
  // (pg_xact_commit_timestamp), which needs track_commit_timestamp: set on
  // the bench's own cluster, and the cluster restarted once for it.
  if (!commit_timestamps()) {
    {
      pqxx::connection conn{url_};
      pqxx::nontransaction tx{conn};
      tx.exec0("ALTER SYSTEM SET track_commit_timestamp = on");
    }
    url_ = run_capture(pg_command(repo_root_, pg_dir_, "restart"));
    if (url_.rfind("postgresql://", 0) != 0)
      throw std::runtime_error("tools/pg.sh restart did not print a URL: " + url_);
  }
}

bool server::commit_timestamps() {
  pqxx::connection conn{url_};
  pqxx::nontransaction tx{conn};
  return tx.exec1("SHOW track_commit_timestamp")[0].as<std::string>() == "on";
}

server::~server() {
  if (!owned_)
    return;
  try {
    run_capture(pg_command(repo_root_, pg_dir_, "stop") + " 2>&1");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tasker-bench: stopping PostgreSQL: %s\n", e.what());
  }
}

std::string server::fresh_database(const std::string& name) {
  drop_database(name);
  {
    pqxx::connection admin{url_};
    pqxx::nontransaction tx{admin};
    tx.exec0("CREATE DATABASE " + tx.quote_name(name));
  }
  auto db_url = database_url(url_, name);
  pqxx::connection conn{db_url};
  resources::apply_migrations(conn);
  pqxx::work tx{conn};
  messaging::queue_client::create_queue(tx, "orchestration_task_requests");
  messaging::queue_client::create_queue(tx, "orchestration_step_results");
  for (const auto& text : all_templates())
    resources::register_template(tx, messaging::parse_template_toml(text, "bench template"));
  messaging::queue_client::create_queue(tx, std::string{bench_namespace} + "_queue");
  tx.commit();
  return db_url;
}

void server::drop_database(const std::string& name) {
  pqxx::connection admin{url_};
  pqxx::nontransaction tx{admin};
  tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name) + " WITH (FORCE)");
}

nlohmann::json server::settings() {
  pqxx::connection conn{url_};
  pqxx::read_transaction tx{conn};
  nlohmann::json out;
  for (auto key : {"server_version", "fsync", "synchronous_commit", "wal_level", "full_page_writes",
                   "wal_sync_method", "commit_delay", "max_connections", "shared_buffers",
                   "track_commit_timestamp"})
    out[key] = tx.exec1(std::string{"SHOW "} + key)[0].as<std::string>();
  return out;
}

namespace {

// Two million iterations of integer arithmetic in PL/pgSQL: about 0.1 to
// 0.2 s on this machine, no table, no I/O, no lock.
constexpr const char* reference_loop_sql =
  "DO $$ DECLARE s bigint := 0; BEGIN FOR i IN 1..2000000 LOOP s := s + i % 7; END LOOP; END $$";

} // namespace

nlohmann::json server::reference_speed(int runs) {
  pqxx::connection conn{url_};
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    pqxx::nontransaction tx{conn};
    const auto start = std::chrono::steady_clock::now();
    tx.exec0(reference_loop_sql);
    times.push_back(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  const double best = times.empty() ? 0.0 : *std::min_element(times.begin(), times.end());
  return {{"loop", reference_loop_sql}, {"runs_ms", times}, {"min_ms", best}};
}

connection_sampler::connection_sampler(const std::string& url, const std::string& dbname,
                                       const std::string& application_name) {
  thread_ = std::thread{[this, url, dbname, application_name] {
    try {
      pqxx::connection conn{url};
      conn.prepare("sample", "SELECT count(*), count(*) FILTER (WHERE state <> 'idle') "
                             "FROM pg_stat_activity WHERE datname = $1 AND application_name = $2");
      while (!stop_) {
        {
          pqxx::nontransaction tx{conn};
          auto row = tx.exec_prepared1("sample", dbname, application_name);
          auto total = row[0].as<std::int64_t>();
          auto busy = row[1].as<std::int64_t>();
          if (total > peak_total_)
            peak_total_ = total;
          if (busy > peak_busy_)
            peak_busy_ = busy;
          ++samples_;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "tasker-bench: connection sampler stopped: %s\n", e.what());
    }
  }};
}

connection_sampler::~connection_sampler() {
  stop_ = true;
  if (thread_.joinable())
    thread_.join();
}

void submit_requests(pqxx::connection& conn, const std::string& name, std::int64_t count,
                     std::int64_t first) {
  constexpr std::int64_t chunk = 1000;
  for (std::int64_t done = 0; done < count; done += chunk) {
    std::vector<nlohmann::json> batch;
    for (std::int64_t i = done; i < std::min(count, done + chunk); ++i) {
      char id[64];
      std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012lld",
                    static_cast<long long>(first + i));
      messaging::task_request req;
      req.request_id = id;
      req.namespace_name = std::string{bench_namespace};
      req.task_name = name;
      req.task_version = "1.0.0";
      req.context = {{"n", first + i}};
      req.initiator = "tasker-bench";
      req.reason = "benchmark";
      batch.push_back(req.to_json());
    }
    pqxx::work tx{conn};
    messaging::queue_client::send_batch(tx, "orchestration_task_requests", batch);
    tx.commit();
  }
}

std::int64_t scalar(pqxx::connection& conn, const std::string& sql) {
  pqxx::nontransaction tx{conn};
  auto row = tx.exec1(sql);
  return row[0].is_null() ? 0 : row[0].as<std::int64_t>();
}

double number(pqxx::connection& conn, const std::string& sql) {
  pqxx::nontransaction tx{conn};
  auto row = tx.exec1(sql);
  return row[0].is_null() ? 0.0 : row[0].as<double>();
}

} // namespace tasker::bench
