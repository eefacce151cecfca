#include "resources/detection.hpp"

#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>

using namespace tasker::resources;

TEST_CASE("detection against the test server reports its connection limits and this machine") {
  pqxx::connection conn{tasker::testing::server_url()};
  tasker::config::database_config db;
  db.pool.max_connections = 12;
  auto found = detect(conn, db);
  CHECK(found.configured_pool_size == 12);
  REQUIRE(found.server.has_value());
  CHECK(found.server->max_connections > 0);
  CHECK(found.server->connections_in_use >= 1); // the probe itself
  CHECK(found.server->available() < found.server->max_connections);
  CHECK(found.cpu_cores > 0);
  REQUIRE(found.available_memory_mb.has_value());
  CHECK(*found.available_memory_mb > 0);
}

TEST_CASE("MemAvailable is read from meminfo text in mebibytes") {
  CHECK(parse_mem_available_mb("MemTotal:  8000000 kB\nMemAvailable:    2097152 kB\n") == 2048);
  CHECK_FALSE(parse_mem_available_mb("MemTotal: 8000000 kB\n").has_value());
}
