#pragma once
/// What the process and database fault tests add to the integration harness:
/// a PostgreSQL cluster of their own (tools/pg.sh) that a test may stop,
/// start and restrict, HTTP probes of a node's endpoint, and the switch for
/// the long variants (TASKER_FAULT_LONG=1).

#include "tools/common/child_process.hpp"
#include "tools/common/noop_templates.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace tasker::testing {

/// True when TASKER_FAULT_LONG=1 asks for the long variants.
bool long_variant();

/// The template every process fault test runs: fault/single@1.0.0, one
/// `noop` step named "only".
inline const std::string single_noop_template = tools::single_step_template("fault");

/// A PostgreSQL cluster for one test, started through tools/pg.sh in a fresh
/// directory under /tmp. While it lives TASKER_DATABASE_URL points at it, so
/// a `cluster` (and its scratch database) created afterwards lives on it;
/// declare the server before the cluster. The destructor restores the
/// variable and destroys the cluster.
class dedicated_server {
public:
  /// Starts the cluster; `max_connections` > 0 sets the server's limit.
  explicit dedicated_server(int max_connections = 0);
  ~dedicated_server();
  dedicated_server(const dedicated_server&) = delete;
  dedicated_server& operator=(const dedicated_server&) = delete;

  /// The server's libpq URL (database `postgres`).
  const std::string& url() const noexcept { return url_; }

  /// Stops the server (fast shutdown: open sessions are terminated).
  void stop();

  /// Starts it again on the same port (after a crash: with crash recovery).
  void start();

  /// Turns off what would flush the WAL behind a test's back while the WAL
  /// writer is frozen: autovacuum (its commits flush), the background
  /// writer's writes and timed checkpoints (writing a page flushes the WAL
  /// before it); restarts the server, which reads them at its start.
  void quiet_background_flushes();

  /// While it lives, the server's WAL writer is stopped (SIGSTOP): the
  /// process that flushes commits made without waiting for the flush. With
  /// the background writer's writes and timed checkpoints off
  /// (bgwriter_lru_maxpages = 0, checkpoint_timeout = 1d: writing a page
  /// flushes the WAL before it), such a commit then stays in the server's
  /// memory until a backend flushes (a commit that waits for it) or crash()
  /// loses it. Its destructor lets the writer go on (SIGCONT) unless crash()
  /// killed it; declare it after the test's `cluster`, whose teardown (DROP
  /// DATABASE waits for every server process) would hang on a stopped one.
  class frozen_wal_writer {
  public:
    explicit frozen_wal_writer(dedicated_server& server);
    ~frozen_wal_writer();
    frozen_wal_writer(const frozen_wal_writer&) = delete;
    frozen_wal_writer& operator=(const frozen_wal_writer&) = delete;

  private:
    dedicated_server& server_;
  };

  /// Crashes the server: SIGKILL to every process of the cluster but the
  /// postmaster at once, frozen ones included. The postmaster handles it as
  /// any crash of a server process: it discards the shared memory (WAL not
  /// yet written is lost), runs crash recovery from the WAL on disk and
  /// accepts connections again; returns once it does.
  void crash();

  /// The server's own log, for failure messages.
  std::string server_log() const;

private:
  std::string pg_sh(const std::string& command) const;

  std::string dir_;
  std::string url_;
  int max_connections_ = 0;
  std::optional<std::string> previous_url_;
  int frozen_pid_ = 0; // the WAL writer while a frozen_wal_writer holds it
};

/// Runs one batch of the task request processor in this process, as node
/// `node_id` runs it (up to 10 requests); returns how many it processed.
std::size_t run_request_batch(const std::string& database_url, const std::string& node_id);

/// One HTTP answer; `status` is -1 when the request itself failed.
struct http_answer {
  int status = -1;
  std::string body;
  std::string error;
};

/// GET `path` from 127.0.0.1:`port`.
http_answer http_get(std::uint16_t port, const std::string& path);

/// `path`'s body as JSON; fails the test (naming path, status and body)
/// when the answer is not JSON.
nlohmann::json http_get_json(std::uint16_t port, const std::string& path, int* status = nullptr);

/// The port a node printed as `tasker-node: http on ADDR:PORT`; fails the
/// test when the node printed none.
std::uint16_t http_port_of(const tools::child_process& node);

/// Tasks and steps per state and the depth of every queue, for failure messages.
std::string progress_summary(const std::string& database_url);

/// How often `text` occurs in `haystack`.
std::size_t occurrences(const std::string& haystack, const std::string& text);

/// Polls `probe` every 200 ms until it returns true or `timeout` passes;
/// returns whether it did.
bool poll_until(const std::function<bool()>& probe, std::chrono::milliseconds timeout);

} // namespace tasker::testing
