#pragma once
/// The PostgreSQL side of the benchmark: the server (a throwaway cluster from
/// tools/pg.sh unless a URL is given), one fresh migrated database per
/// scenario with the bench templates registered, the server's durability
/// settings, and a sampler of the connections a process holds.

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace tasker::bench {

/// The server every scenario runs on.
class server {
public:
  /// Uses `url` when not empty, else starts tools/pg.sh with TASKER_PG_DIR=`pg_dir`
  /// (with track_commit_timestamp on: set and restarted once when it is off).
  server(const std::string& repo_root, const std::string& url, const std::string& pg_dir);
  /// Stops the cluster when this object started it.
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The URL of the server's maintenance database.
  const std::string& url() const noexcept { return url_; }

  /// A fresh database `name` (dropped first when it exists), migrated, with
  /// the two orchestration queues, the bench templates and their queue.
  /// Returns its URL.
  std::string fresh_database(const std::string& name);

  /// Whether the server records commit timestamps (track_commit_timestamp).
  bool commit_timestamps();

  /// Drops database `name`.
  void drop_database(const std::string& name);

  /// server_version, fsync, synchronous_commit, wal_level, max_connections, ...
  nlohmann::json settings();

  /// How fast the machine is now, apart from Tasker: a fixed PL/pgSQL loop
  /// (reference_loop_sql) timed `runs` times in one server process, on a
  /// connection of its own. {"loop", "runs_ms": [...], "min_ms"}; lower is
  /// faster. This machine's speed drifts by a third within an hour, and this
  /// says where in that drift a run was.
  nlohmann::json reference_speed(int runs = 3);

private:
  std::string repo_root_;
  std::string pg_dir_;
  std::string url_;
  bool owned_ = false;
};

/// `url` with its database replaced by `dbname` and `application_name` set
/// (when not empty), so the sampler can tell processes apart.
std::string database_url(const std::string& url, const std::string& dbname,
                         const std::string& application_name = "");

/// Samples pg_stat_activity every 100 ms on its own thread: the peak number
/// of connections of one application_name, all of them and non-idle ones.
class connection_sampler {
public:
  /// Starts sampling connections to `dbname` named `application_name`.
  connection_sampler(const std::string& url, const std::string& dbname,
                     const std::string& application_name);
  /// Stops the thread.
  ~connection_sampler();
  connection_sampler(const connection_sampler&) = delete;
  connection_sampler& operator=(const connection_sampler&) = delete;

  /// Most connections open at one sample.
  std::int64_t peak_total() const noexcept { return peak_total_; }
  /// Most connections not idle (active or in a transaction) at one sample.
  std::int64_t peak_busy() const noexcept { return peak_busy_; }
  /// Samples taken.
  std::int64_t samples() const noexcept { return samples_; }

private:
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> peak_total_{0};
  std::atomic<std::int64_t> peak_busy_{0};
  std::atomic<std::int64_t> samples_{0};
  std::thread thread_;
};

/// Submits `count` task requests for bench/`name` through send_batch in
/// chunks of 1,000; `first` numbers their contexts.
void submit_requests(pqxx::connection& conn, const std::string& name, std::int64_t count,
                     std::int64_t first = 0);

/// One integer from `sql` (0 for NULL).
std::int64_t scalar(pqxx::connection& conn, const std::string& sql);

/// One number from `sql` (0 for NULL).
double number(pqxx::connection& conn, const std::string& sql);

} // namespace tasker::bench
