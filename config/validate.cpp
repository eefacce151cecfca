#include "config/validate.hpp"

#include "messaging/identifier.hpp"

#include <filesystem>
#include <tuple>

namespace tasker::config {

namespace {

/// "key = value (file)" for use inside an error message.
std::string cite(const provenance& sources, const std::string& path, long long value) {
  return path + " = " + std::to_string(value) + " (" + source_of(sources, path) + ")";
}

bool is_suffix_text(const std::string& s) {
  if (s.empty() || s.size() > 16)
    return false;
  for (char ch : s)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
      return false;
  return true;
}

} // namespace

std::vector<std::string> validate_database(const database_config& db, const provenance& sources) {
  std::vector<std::string> errors;
  const auto& p = db.pool;
  if (p.min_connections > p.max_connections)
    errors.push_back(cite(sources, "database.pool.min_connections", p.min_connections) +
                     " exceeds " +
                     cite(sources, "database.pool.max_connections", p.max_connections));
  if (!db.url.empty() && db.url.rfind("postgresql://", 0) != 0 &&
      db.url.rfind("postgres://", 0) != 0 && db.url.find('=') == std::string::npos)
    errors.push_back(source_of(sources, "database.url") +
                     ": database.url is neither a postgresql:// URL nor a key=value string");
  return errors;
}

std::vector<std::string> validate_queues(const queues_config& queues, const provenance& sources) {
  std::vector<std::string> errors;
  for (auto [key, name] : {std::pair{"queues.names.task_requests", &queues.names.task_requests},
                           std::pair{"queues.names.step_results", &queues.names.step_results}}) {
    if (!messaging::is_valid_identifier(*name))
      errors.push_back(source_of(sources, key) + ": " + key + " = \"" + *name +
                       "\" is not a valid queue name (^[a-z][a-z0-9_]{0,47}$)");
  }
  if (queues.names.task_requests == queues.names.step_results)
    errors.push_back(source_of(sources, "queues.names.step_results") +
                     ": queues.names.step_results must differ from queues.names.task_requests");
  if (!is_suffix_text(queues.names.namespace_suffix))
    errors.push_back(source_of(sources, "queues.names.namespace_suffix") +
                     ": queues.names.namespace_suffix = \"" + queues.names.namespace_suffix +
                     "\" must be 1-16 characters of [a-z0-9_]");
  return errors;
}

std::vector<std::string> validate(const tasker_config& config, const provenance& sources) {
  auto errors = validate_database(config.database, sources);
  const auto& p = config.database.pool;
  if (p.reserved_connections >= p.max_connections)
    errors.push_back(cite(sources, "database.pool.reserved_connections", p.reserved_connections) +
                     " leaves no connection for executors out of " +
                     cite(sources, "database.pool.max_connections", p.max_connections));
  auto more = validate_queues(config.queues, sources);
  errors.insert(errors.end(), more.begin(), more.end());
  for (const auto& [type, pool] : config.pools) {
    if (pool.min_executors > pool.max_executors) {
      std::string prefix = "executor_pools." + std::string{to_string(type)} + ".";
      errors.push_back(cite(sources, prefix + "min_executors", pool.min_executors) + " exceeds " +
                       cite(sources, prefix + "max_executors", pool.max_executors));
    }
  }
  // The executor budget, as resources::calculate_budget computes it, but
  // naming the keys and files to change; skipped when reserved_connections
  // already leaves nothing, since that error says the same.
  int requested = 0;
  std::string pool_keys;
  for (const auto& [type, pool] : config.pools) {
    requested += pool.max_executors;
    pool_keys += (pool_keys.empty() ? "" : ", ") +
                 cite(sources, "executor_pools." + std::string{to_string(type)} + ".max_executors",
                      pool.max_executors);
  }
  if (config.coordinator.resource_validation_enabled &&
      p.reserved_connections < p.max_connections &&
      requested > p.max_connections - p.reserved_connections)
    errors.push_back(
        "executor pools request " + std::to_string(requested) + " executors but only " +
        std::to_string(p.max_connections - p.reserved_connections) +
        " database connections are available (pool " + std::to_string(p.max_connections) +
        ", reserved " + std::to_string(p.reserved_connections) + "): " + pool_keys +
        " must together fit " + cite(sources, "database.pool.max_connections", p.max_connections) +
        " minus " + cite(sources, "database.pool.reserved_connections", p.reserved_connections));
  const auto& o = config.orchestration;
  if (o.stale_heartbeat_ms <= o.heartbeat_interval_ms)
    errors.push_back(cite(sources, "orchestration.stale_heartbeat_ms", o.stale_heartbeat_ms) +
                     " must exceed " +
                     cite(sources, "orchestration.heartbeat_interval_ms", o.heartbeat_interval_ms));
  const auto& m = config.telemetry.metrics;
  if (m.path.empty() || m.path.front() != '/')
    errors.push_back(source_of(sources, "telemetry.metrics.path") +
                     ": telemetry.metrics.path = \"" + m.path + "\" must start with '/'");
  const auto& t = config.telemetry;
  if (t.http.enabled && t.inspector.enabled && t.http.port != 0 &&
      t.http.port == t.inspector.port && t.http.bind_address == t.inspector.bind_address)
    errors.push_back(cite(sources, "telemetry.inspector.port", t.inspector.port) +
                     " collides with " + cite(sources, "telemetry.http.port", t.http.port));
  auto tls_errors = validate_inspector_tls(t.inspector.tls, sources);
  errors.insert(errors.end(), tls_errors.begin(), tls_errors.end());
  return errors;
}

std::vector<std::string> validate_inspector_tls(const inspector_tls_config& tls,
                                                const provenance& sources) {
  std::vector<std::string> errors;
  if (!tls.enabled)
    return errors;
  const std::string prefix = "telemetry.inspector.tls.";
  for (auto [name, value] : {std::pair{"certificate", &tls.certificate},
                             std::pair{"key", &tls.key}}) {
    auto key = prefix + name;
    if (value->empty())
      errors.push_back(source_of(sources, prefix + "enabled") + ": " + prefix +
                       "enabled = true needs " + key + " (" + source_of(sources, key) +
                       " leaves it empty)");
  }
  if (tls.cafile.empty() && tls.capath.empty())
    errors.push_back(source_of(sources, prefix + "enabled") + ": " + prefix +
                     "enabled = true needs " + prefix + "cafile or " + prefix +
                     "capath: the CAs that sign the clients' certificates");
  for (auto [name, value, want_dir] :
       {std::tuple{"certificate", &tls.certificate, false}, std::tuple{"key", &tls.key, false},
        std::tuple{"cafile", &tls.cafile, false}, std::tuple{"capath", &tls.capath, true}}) {
    if (value->empty())
      continue;
    auto key = prefix + name;
    std::error_code ec;
    auto status = std::filesystem::status(*value, ec);
    if (!std::filesystem::exists(status))
      errors.push_back(source_of(sources, key) + ": " + key + " = \"" + *value +
                       "\" does not exist");
    else if (want_dir != std::filesystem::is_directory(status))
      errors.push_back(source_of(sources, key) + ": " + key + " = \"" + *value + "\" is " +
                       (want_dir ? "not a directory" : "a directory, not a file"));
  }
  return errors;
}

} // namespace tasker::config
