#pragma once
/// The typed configuration of a Tasker node. The defaults written here are the
/// defaults of the shipped `config/tasker/*.toml` files (a test keeps them in
/// step), so a file that omits a key gets the same value either way.

#include "config/executor_type.hpp"

#include <map>
#include <optional>
#include <string>

namespace tasker::config {

/// Sizing of the node's PostgreSQL connection pool.
struct db_pool_config {
  int max_connections = 25;         ///< connections the pool may open
  int min_connections = 5;          ///< connections kept open when idle
  int acquire_timeout_seconds = 30; ///< wait for a free connection before failing
  int idle_timeout_seconds = 300;   ///< close connections idle this long (above min)
  int max_lifetime_seconds = 3600;  ///< recycle a connection after this age
  int reserved_connections = 5;     ///< kept out of the executor budget for the node's own use
  bool operator==(const db_pool_config&) const = default;
};

/// `[database]`: where and how the node talks to PostgreSQL.
struct database_config {
  std::string url;                 ///< libpq URL; usually from TASKER_DATABASE_URL
  int statement_timeout_ms = 5000; ///< server-side timeout for every statement
  db_pool_config pool;             ///< `[database.pool]`
  bool operator==(const database_config&) const = default;
};

/// `[orchestration]`: node identity and the timings of the orchestration loop.
struct orchestration_config {
  std::string node_id;                      ///< "" means hostname-pid
  int claim_timeout_seconds = 60;           ///< a claim older than this is released
  int priority_aging_seconds = 300;         ///< waiting this long adds one priority point
  bool start_tasks_on_creation = true;      ///< the request processor starts new tasks itself
  int drain_timeout_seconds = 30;           ///< how long stop waits for in-flight work
  int executor_recycle_batches = 0;         ///< restart an executor after N batches (0: never)
  int executor_max_lifetime_seconds = 0;    ///< restart an executor after this age (0: never)
  int heartbeat_interval_ms = 1000;         ///< how often executors report to the coordinator
  int stale_heartbeat_ms = 5000;            ///< an executor silent this long is unhealthy
  bool operator==(const orchestration_config&) const = default;
};

/// `[executor_pools.coordinator]`: the scaling and health loop.
struct coordinator_config {
  bool auto_scaling_enabled = true;        ///< let the coordinator resize pools
  double target_utilization = 0.75;        ///< busy-time fraction the scaler aims for
  double scale_up_cpu_ceiling = 0.9;       ///< host CPU busy fraction above which pools do not grow
  int scaling_interval_seconds = 30;       ///< time between scaling decisions
  int health_check_interval_seconds = 10;  ///< time between health ticks
  int scaling_cooldown_seconds = 60;       ///< minimum time between two resizes of a pool
  double max_db_pool_usage = 0.85;         ///< pool saturation above which backpressure starts
  bool resource_validation_enabled = true; ///< refuse to start when the budget does not fit
  bool operator==(const coordinator_config&) const = default;
};

/// `[executor_pools.<type>]`: one executor pool.
struct pool_config {
  int min_executors = 1;               ///< executors always running
  int max_executors = 3;               ///< upper bound for scaling
  int polling_interval_ms = 100;       ///< pause between empty batches
  int batch_size = 10;                 ///< items per batch
  int max_batch_size = 400;            ///< under a backlog batches double up to this
  int processing_timeout_ms = 30000;   ///< a batch running longer counts as a failure
  bool circuit_breaker_enabled = true; ///< guard the pool with a circuit breaker
  int circuit_breaker_threshold = 5;   ///< consecutive failures that open the breaker
  double resource_weight = 1.0;        ///< share of spare capacity when scaling competes
  bool operator==(const pool_config&) const = default;
};

/// Settings of one circuit breaker.
struct breaker_settings {
  int failure_threshold = 5; ///< consecutive failures that open the breaker
  int timeout_seconds = 30;  ///< how long the breaker stays open before a trial call
  int success_threshold = 2; ///< trial successes that close it again
  bool operator==(const breaker_settings&) const = default;
};

/// `[circuit_breakers.executors.<type>]`: keys that differ from the defaults.
struct breaker_override {
  std::optional<int> timeout_seconds;   ///< replaces defaults.timeout_seconds
  std::optional<int> success_threshold; ///< replaces defaults.success_threshold
  bool operator==(const breaker_override&) const = default;
};

/// `[circuit_breakers]`: defaults plus per-executor-type overrides.
struct circuit_breakers_config {
  breaker_settings defaults; ///< `[circuit_breakers.defaults]`
  /// `[circuit_breakers.executors.<type>]`; every type has an entry, empty when not overridden.
  std::map<executor_type, breaker_override> executors = no_overrides();

  /// An entry without overrides for every executor type.
  static std::map<executor_type, breaker_override> no_overrides();

  /// The breaker of an executor pool: the pool's own threshold, the
  /// executor override where set, the defaults elsewhere.
  breaker_settings for_executor(executor_type type, const pool_config& pool) const;
  bool operator==(const circuit_breakers_config&) const = default;
};

/// `[queues.names]`: queue names shared by the node and every worker.
struct queue_names_config {
  std::string task_requests = "orchestration_task_requests"; ///< task request queue
  std::string step_results = "orchestration_step_results";   ///< step result queue
  std::string namespace_suffix = "_queue"; ///< a namespace's step queue is <namespace><suffix>

  /// The step queue of namespace `ns`.
  std::string namespace_queue(const std::string& ns) const { return ns + namespace_suffix; }
  bool operator==(const queue_names_config&) const = default;
};

/// `[queues]`: message queue behaviour.
struct queues_config {
  int read_batch_size = 10;            ///< messages per read
  int send_batch_size = 100;           ///< messages per batched send
  int poll_interval_ms = 250;          ///< fallback poll when no NOTIFY arrives
  int archive_retention_days = 7;      ///< archived messages older than this are deleted
  int max_message_bytes = 1048576;     ///< larger task requests and step results are archived
  queue_names_config names;            ///< `[queues.names]`
  bool operator==(const queues_config&) const = default;
};

/// `[telemetry.logging]`: the node's log output.
struct logging_config {
  std::string level = "info";  ///< trace|debug|info|warn|error|critical|off
  std::string format = "text"; ///< text|json
  bool operator==(const logging_config&) const = default;
};

/// `[telemetry.http]`: the health endpoint.
struct http_config {
  bool enabled = true;                    ///< serve /health (and metrics)
  std::string bind_address = "127.0.0.1"; ///< loopback unless deliberately opened
  int port = 8080;                        ///< 0 picks a free port
  bool operator==(const http_config&) const = default;
};

/// `[telemetry.metrics]`: Prometheus exposition on the HTTP endpoint.
struct metrics_config {
  bool enabled = true;           ///< expose metrics
  std::string path = "/metrics"; ///< path of the metrics endpoint
  bool operator==(const metrics_config&) const = default;
};

/// `[telemetry.inspector.tls]`: mutual TLS for the inspector (CAF's OpenSSL module).
struct inspector_tls_config {
  bool enabled = false;    ///< serve the inspector over TLS only
  std::string certificate; ///< PEM certificate (chain) the node presents
  std::string key;         ///< PEM private key of the certificate
  std::string passphrase;  ///< opens an encrypted key; a secret, never printed
  std::string cafile;      ///< PEM file of the CAs that sign client certificates
  std::string capath;      ///< directory of hashed CA certificates, instead of or besides cafile
  bool operator==(const inspector_tls_config&) const = default;
};

/// `[telemetry.inspector]`: the inspector published over CAF's middleman.
struct inspector_config {
  bool enabled = false;                   ///< publish the inspector actor
  std::string bind_address = "127.0.0.1"; ///< middleman bind address
  int port = 4242;                        ///< middleman port; 0 picks a free port
  inspector_tls_config tls;               ///< `[telemetry.inspector.tls]`
  bool operator==(const inspector_config&) const = default;
};

/// `[telemetry]`: logging, the HTTP endpoint, metrics and the inspector.
struct telemetry_config {
  logging_config logging;     ///< `[telemetry.logging]`
  http_config http;           ///< `[telemetry.http]`
  metrics_config metrics;     ///< `[telemetry.metrics]`
  inspector_config inspector; ///< `[telemetry.inspector]`
  bool operator==(const telemetry_config&) const = default;
};

/// Everything a node reads from configuration.
struct tasker_config {
  database_config database;                                     ///< `[database]`
  orchestration_config orchestration;                           ///< `[orchestration]`
  coordinator_config coordinator;                               ///< `[executor_pools.coordinator]`
  std::map<executor_type, pool_config> pools = default_pools(); ///< `[executor_pools.<type>]`
  circuit_breakers_config circuit_breakers;                     ///< `[circuit_breakers]`
  queues_config queues;                                         ///< `[queues]`
  telemetry_config telemetry;                                   ///< `[telemetry]`

  /// The shipped per-pool defaults, one entry per executor type.
  static std::map<executor_type, pool_config> default_pools();
  /// Sum of max_executors over every pool.
  int total_max_executors() const;
  bool operator==(const tasker_config&) const = default;
};

/// The node id to use: orchestration.node_id, or "<hostname>-<pid>" when empty.
std::string effective_node_id(const orchestration_config& orchestration);

} // namespace tasker::config
