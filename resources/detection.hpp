#pragma once
/// What the machine and the PostgreSQL server can give a node: connections
/// (the binding limit), memory, and CPU cores (informational only; executors
/// are sized by connections, not cores).

#include "config/tasker_config.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

namespace tasker::resources {

/// The server's connection limits as seen from one connection.
struct server_limits {
  int max_connections = 0;                ///< the server's max_connections
  int superuser_reserved_connections = 0; ///< slots only superusers may take
  int connections_in_use = 0;             ///< client connections open now (the probe included)

  /// Connections an ordinary role could still open.
  int available() const {
    return max_connections - superuser_reserved_connections - connections_in_use;
  }
};

/// Everything detection found; absent parts could not be measured.
struct system_resources {
  int configured_pool_size = 0;                    ///< database.pool.max_connections
  std::optional<server_limits> server;             ///< absent without a database connection
  std::optional<std::int64_t> available_memory_mb; ///< MemAvailable; absent off Linux
  unsigned cpu_cores = 0;                          ///< hardware threads; informational
};

/// Reads max_connections, superuser_reserved_connections and the open client
/// connections from the server `conn` is connected to.
server_limits detect_server_limits(pqxx::connection& conn);

/// MemAvailable in MiB from the text of /proc/meminfo, or nothing when missing.
std::optional<std::int64_t> parse_mem_available_mb(std::string_view meminfo);

/// MemAvailable of this machine in MiB, or nothing when `meminfo` is unreadable.
std::optional<std::int64_t>
available_memory_mb(const std::filesystem::path& meminfo = "/proc/meminfo");

/// Hardware threads of this machine (at least 1).
unsigned cpu_cores();

/// Memory and cores of this machine and the configured pool, without a server.
system_resources detect_local(const config::database_config& database);

/// detect_local() plus the server limits read through `conn`.
system_resources detect(pqxx::connection& conn, const config::database_config& database);

} // namespace tasker::resources
