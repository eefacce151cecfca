#include "resources/detection.hpp"

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace tasker::resources {

namespace detail {
const std::vector<std::pair<std::string_view, std::string_view>>& embedded_queries();
} // namespace detail

namespace {

std::string_view query(std::string_view name) {
  for (const auto& [file, sql] : detail::embedded_queries())
    if (file == name)
      return sql;
  throw std::logic_error("query file " + std::string{name} + " is not compiled in");
}

} // namespace

server_limits detect_server_limits(pqxx::connection& conn) {
  pqxx::read_transaction tx{conn};
  auto row = tx.exec1(std::string{query("server_limits.sql")});
  server_limits out;
  out.max_connections = row["max_connections"].as<int>();
  out.superuser_reserved_connections = row["superuser_reserved"].as<int>();
  out.connections_in_use = row["in_use"].as<int>();
  return out;
}

std::optional<std::int64_t> parse_mem_available_mb(std::string_view meminfo) {
  constexpr std::string_view key = "MemAvailable:";
  auto pos = meminfo.find(key);
  if (pos == std::string_view::npos)
    return std::nullopt;
  auto rest = meminfo.substr(pos + key.size());
  auto start = rest.find_first_not_of(" \t");
  if (start == std::string_view::npos)
    return std::nullopt;
  std::int64_t kib = 0;
  auto [end, ec] = std::from_chars(rest.data() + start, rest.data() + rest.size(), kib);
  if (ec != std::errc{})
    return std::nullopt;
  return kib / 1024;
}

std::optional<std::int64_t> available_memory_mb(const std::filesystem::path& meminfo) {
  std::ifstream in{meminfo};
  if (!in)
    return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return parse_mem_available_mb(text.str());
}

unsigned cpu_cores() {
  return std::max(1u, std::thread::hardware_concurrency());
}

system_resources detect_local(const config::database_config& database) {
  system_resources out;
  out.configured_pool_size = database.pool.max_connections;
  out.available_memory_mb = available_memory_mb();
  out.cpu_cores = cpu_cores();
  return out;
}

system_resources detect(pqxx::connection& conn, const config::database_config& database) {
  auto out = detect_local(database);
  out.server = detect_server_limits(conn);
  return out;
}

} // namespace tasker::resources
