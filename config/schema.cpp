#include "config/schema.hpp"

#include <algorithm>
#include <cctype>
#include <map>

namespace tasker::config {

namespace {

using accessor = std::function<value_ref(tasker_config&)>;

struct schema_builder {
  std::vector<field> out;
  tasker_config probe; // only used to learn each accessor's kind

  void add(std::string path, double min, double max, accessor ref,
           std::vector<std::string> choices = {}) {
    auto kind = static_cast<value_kind>(ref(probe).index());
    out.push_back(field{std::move(path), kind, min, max, std::move(choices), std::move(ref)});
  }
  void text(std::string path, accessor ref, std::vector<std::string> choices = {}) {
    add(std::move(path), 0, 0, std::move(ref), std::move(choices));
  }
  void flag(std::string path, accessor ref) { add(std::move(path), 0, 1, std::move(ref)); }
};

constexpr double day = 86400;
const std::vector<std::string> log_levels{"trace", "debug",    "info", "warn",
                                          "error", "critical", "off"};

std::vector<field> build() {
  schema_builder b;
  using C = tasker_config;
  // [database]
  b.text("database.url", [](C& c) -> value_ref { return &c.database.url; });
  b.add("database.statement_timeout_ms", 0, 3600000,
        [](C& c) -> value_ref { return &c.database.statement_timeout_ms; });
  b.add("database.pool.max_connections", 1, 10000,
        [](C& c) -> value_ref { return &c.database.pool.max_connections; });
  b.add("database.pool.min_connections", 0, 10000,
        [](C& c) -> value_ref { return &c.database.pool.min_connections; });
  b.add("database.pool.acquire_timeout_seconds", 1, 3600,
        [](C& c) -> value_ref { return &c.database.pool.acquire_timeout_seconds; });
  b.add("database.pool.idle_timeout_seconds", 0, day,
        [](C& c) -> value_ref { return &c.database.pool.idle_timeout_seconds; });
  b.add("database.pool.max_lifetime_seconds", 0, 7 * day,
        [](C& c) -> value_ref { return &c.database.pool.max_lifetime_seconds; });
  b.add("database.pool.reserved_connections", 0, 1000,
        [](C& c) -> value_ref { return &c.database.pool.reserved_connections; });
  // [orchestration]
  b.text("orchestration.node_id", [](C& c) -> value_ref { return &c.orchestration.node_id; });
  b.add("orchestration.claim_timeout_seconds", 1, day,
        [](C& c) -> value_ref { return &c.orchestration.claim_timeout_seconds; });
  b.add("orchestration.priority_aging_seconds", 0, day,
        [](C& c) -> value_ref { return &c.orchestration.priority_aging_seconds; });
  b.flag("orchestration.start_tasks_on_creation",
         [](C& c) -> value_ref { return &c.orchestration.start_tasks_on_creation; });
  b.add("orchestration.drain_timeout_seconds", 0, 3600,
        [](C& c) -> value_ref { return &c.orchestration.drain_timeout_seconds; });
  b.add("orchestration.executor_recycle_batches", 0, 1e9,
        [](C& c) -> value_ref { return &c.orchestration.executor_recycle_batches; });
  b.add("orchestration.executor_max_lifetime_seconds", 0, 30 * day,
        [](C& c) -> value_ref { return &c.orchestration.executor_max_lifetime_seconds; });
  b.add("orchestration.heartbeat_interval_ms", 10, 600000,
        [](C& c) -> value_ref { return &c.orchestration.heartbeat_interval_ms; });
  b.add("orchestration.stale_heartbeat_ms", 10, 3600000,
        [](C& c) -> value_ref { return &c.orchestration.stale_heartbeat_ms; });
  // [executor_pools.coordinator]
  b.flag("executor_pools.coordinator.auto_scaling_enabled",
         [](C& c) -> value_ref { return &c.coordinator.auto_scaling_enabled; });
  b.add("executor_pools.coordinator.target_utilization", 0.05, 1.0,
        [](C& c) -> value_ref { return &c.coordinator.target_utilization; });
  b.add("executor_pools.coordinator.scale_up_cpu_ceiling", 0.1, 1.0,
        [](C& c) -> value_ref { return &c.coordinator.scale_up_cpu_ceiling; });
  b.add("executor_pools.coordinator.scaling_interval_seconds", 1, 3600,
        [](C& c) -> value_ref { return &c.coordinator.scaling_interval_seconds; });
  b.add("executor_pools.coordinator.health_check_interval_seconds", 1, 3600,
        [](C& c) -> value_ref { return &c.coordinator.health_check_interval_seconds; });
  b.add("executor_pools.coordinator.scaling_cooldown_seconds", 0, day,
        [](C& c) -> value_ref { return &c.coordinator.scaling_cooldown_seconds; });
  b.add("executor_pools.coordinator.max_db_pool_usage", 0.1, 1.0,
        [](C& c) -> value_ref { return &c.coordinator.max_db_pool_usage; });
  b.flag("executor_pools.coordinator.resource_validation_enabled",
         [](C& c) -> value_ref { return &c.coordinator.resource_validation_enabled; });
  // [executor_pools.<type>]
  for (auto t : all_executor_types) {
    std::string p = "executor_pools." + std::string{to_string(t)} + ".";
    b.add(p + "min_executors", 0, 1000,
          [t](C& c) -> value_ref { return &c.pools[t].min_executors; });
    b.add(p + "max_executors", 1, 1000,
          [t](C& c) -> value_ref { return &c.pools[t].max_executors; });
    b.add(p + "polling_interval_ms", 1, 600000,
          [t](C& c) -> value_ref { return &c.pools[t].polling_interval_ms; });
    b.add(p + "batch_size", 1, 10000, [t](C& c) -> value_ref { return &c.pools[t].batch_size; });
    b.add(p + "max_batch_size", 1, 10000,
          [t](C& c) -> value_ref { return &c.pools[t].max_batch_size; });
    b.add(p + "processing_timeout_ms", 100, 3600000,
          [t](C& c) -> value_ref { return &c.pools[t].processing_timeout_ms; });
    b.flag(p + "circuit_breaker_enabled",
           [t](C& c) -> value_ref { return &c.pools[t].circuit_breaker_enabled; });
    b.add(p + "circuit_breaker_threshold", 1, 1000,
          [t](C& c) -> value_ref { return &c.pools[t].circuit_breaker_threshold; });
    b.add(p + "resource_weight", 0.01, 100,
          [t](C& c) -> value_ref { return &c.pools[t].resource_weight; });
  }
  // [circuit_breakers]
  b.add("circuit_breakers.defaults.failure_threshold", 1, 1000,
        [](C& c) -> value_ref { return &c.circuit_breakers.defaults.failure_threshold; });
  b.add("circuit_breakers.defaults.timeout_seconds", 1, day,
        [](C& c) -> value_ref { return &c.circuit_breakers.defaults.timeout_seconds; });
  b.add("circuit_breakers.defaults.success_threshold", 1, 1000,
        [](C& c) -> value_ref { return &c.circuit_breakers.defaults.success_threshold; });
  for (auto t : all_executor_types) {
    std::string p = "circuit_breakers.executors." + std::string{to_string(t)} + ".";
    b.add(p + "timeout_seconds", 1, day,
          [t](C& c) -> value_ref { return &c.circuit_breakers.executors[t].timeout_seconds; });
    b.add(p + "success_threshold", 1, 1000,
          [t](C& c) -> value_ref { return &c.circuit_breakers.executors[t].success_threshold; });
  }
  // [queues]
  b.add("queues.read_batch_size", 1, 10000,
        [](C& c) -> value_ref { return &c.queues.read_batch_size; });
  b.add("queues.send_batch_size", 1, 10000,
        [](C& c) -> value_ref { return &c.queues.send_batch_size; });
  b.add("queues.poll_interval_ms", 1, 600000,
        [](C& c) -> value_ref { return &c.queues.poll_interval_ms; });
  b.add("queues.archive_retention_days", 0, 3650,
        [](C& c) -> value_ref { return &c.queues.archive_retention_days; });
  b.add("queues.max_message_bytes", 1024, 67108864,
        [](C& c) -> value_ref { return &c.queues.max_message_bytes; });
  b.text("queues.names.task_requests",
         [](C& c) -> value_ref { return &c.queues.names.task_requests; });
  b.text("queues.names.step_results",
         [](C& c) -> value_ref { return &c.queues.names.step_results; });
  b.text("queues.names.namespace_suffix",
         [](C& c) -> value_ref { return &c.queues.names.namespace_suffix; });
  // [telemetry]
  b.text(
      "telemetry.logging.level", [](C& c) -> value_ref { return &c.telemetry.logging.level; },
      log_levels);
  b.text("telemetry.logging.format", [](C& c) -> value_ref { return &c.telemetry.logging.format; },
         {"text", "json"});
  b.flag("telemetry.http.enabled", [](C& c) -> value_ref { return &c.telemetry.http.enabled; });
  b.text("telemetry.http.bind_address",
         [](C& c) -> value_ref { return &c.telemetry.http.bind_address; });
  b.add("telemetry.http.port", 0, 65535, [](C& c) -> value_ref { return &c.telemetry.http.port; });
  b.flag("telemetry.metrics.enabled",
         [](C& c) -> value_ref { return &c.telemetry.metrics.enabled; });
  b.text("telemetry.metrics.path", [](C& c) -> value_ref { return &c.telemetry.metrics.path; });
  b.flag("telemetry.inspector.enabled",
         [](C& c) -> value_ref { return &c.telemetry.inspector.enabled; });
  b.text("telemetry.inspector.bind_address",
         [](C& c) -> value_ref { return &c.telemetry.inspector.bind_address; });
  b.add("telemetry.inspector.port", 0, 65535,
        [](C& c) -> value_ref { return &c.telemetry.inspector.port; });
  b.flag("telemetry.inspector.tls.enabled",
         [](C& c) -> value_ref { return &c.telemetry.inspector.tls.enabled; });
  b.text("telemetry.inspector.tls.certificate",
         [](C& c) -> value_ref { return &c.telemetry.inspector.tls.certificate; });
  b.text("telemetry.inspector.tls.key",
         [](C& c) -> value_ref { return &c.telemetry.inspector.tls.key; });
  b.text("telemetry.inspector.tls.passphrase",
         [](C& c) -> value_ref { return &c.telemetry.inspector.tls.passphrase; });
  b.text("telemetry.inspector.tls.cafile",
         [](C& c) -> value_ref { return &c.telemetry.inspector.tls.cafile; });
  b.text("telemetry.inspector.tls.capath",
         [](C& c) -> value_ref { return &c.telemetry.inspector.tls.capath; });
  return std::move(b.out);
}

} // namespace

const std::vector<field>& fields() {
  static const std::vector<field> all = build();
  return all;
}

const field* find_field(std::string_view path) {
  static const auto index = [] {
    std::map<std::string, const field*, std::less<>> m;
    for (const auto& f : fields())
      m.emplace(f.path, &f);
    return m;
  }();
  auto it = index.find(path);
  return it == index.end() ? nullptr : it->second;
}

std::string unknown_key(std::string_view path) {
  // Keys no part of Tasker reads any more. Refused like any unknown key, so a
  // setting never silently does nothing, but with the reason.
  static const std::map<std::string, std::string, std::less<>> removed{
      {"queues.visibility_timeout_seconds",
       "the node's processors consume task requests and step results in the transaction "
       "that handles them (an unfinished batch is readable again at once); a worker "
       "consumes the message of each step it starts, and a step that overruns its "
       "timeout_seconds is rescued"},
      {"orchestration.step_visibility_timeout_seconds",
       "a worker consumes the message of each step it starts, and a step that overruns its "
       "timeout (the template's timeout_seconds) is rescued; tasker-node worker "
       "--visibility-timeout hides the messages a claim sets aside"},
  };
  std::string out = "unknown key " + std::string{path};
  if (auto it = removed.find(path); it != removed.end())
    out += " (removed: " + it->second + ")";
  return out;
}

bool is_section(std::string_view path) {
  return std::any_of(fields().begin(), fields().end(), [&](const field& f) {
    return f.path.size() > path.size() && f.path.compare(0, path.size(), path) == 0 &&
           f.path[path.size()] == '.';
  });
}

std::string_view kind_name(value_kind kind) noexcept {
  switch (kind) {
  case value_kind::boolean:
    return "a boolean";
  case value_kind::integer:
  case value_kind::optional_integer:
    return "an integer";
  case value_kind::floating:
    return "a number";
  case value_kind::string:
    return "a string";
  }
  return "a value";
}

std::string env_name(std::string_view path) {
  std::string out = "TASKER_";
  for (char ch : path) {
    if (ch == '.')
      out += "__";
    else
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return out;
}

std::optional<std::string> path_from_env_name(std::string_view variable) {
  constexpr std::string_view prefix = "TASKER_";
  if (variable.substr(0, prefix.size()) != prefix)
    return std::nullopt;
  auto rest = variable.substr(prefix.size());
  if (rest.find("__") == std::string_view::npos)
    return std::nullopt;
  std::string path;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest.compare(i, 2, "__") == 0) {
      path += '.';
      ++i;
    } else {
      path += static_cast<char>(std::tolower(static_cast<unsigned char>(rest[i])));
    }
  }
  return path;
}

} // namespace tasker::config
