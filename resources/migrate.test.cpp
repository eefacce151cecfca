#include "resources/migrate.hpp"
#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>

using namespace tasker;

TEST_CASE("migrations apply once and a second run applies nothing") {
  testing::scratch_db db{false};
  auto conn = db.connect();
  CHECK_FALSE(resources::is_migrated(conn));
  auto first = resources::apply_migrations(conn);
  CHECK(first.size() == resources::migrations().size());
  CHECK(resources::is_migrated(conn));
  auto second = resources::apply_migrations(conn);
  CHECK(second.empty());
  pqxx::read_transaction tx{conn};
  auto n = tx.exec1("SELECT count(*) FROM tasker_schema_migrations")[0].as<std::size_t>();
  CHECK(n == resources::migrations().size());
}

TEST_CASE("migrations are ordered by file name") {
  auto ms = resources::migrations();
  REQUIRE_FALSE(ms.empty());
  for (std::size_t i = 1; i < ms.size(); ++i)
    CHECK(ms[i - 1].name < ms[i].name);
}

TEST_CASE("migrations can stop before a named one, and a later run applies the rest") {
  testing::scratch_db db{false};
  auto conn = db.connect();
  auto ms = resources::migrations();
  REQUIRE(ms.size() > 2);
  const std::string stop{ms[ms.size() - 2].name};
  auto first = resources::apply_migrations(conn, stop);
  CHECK(first.size() == ms.size() - 2);
  CHECK(first.back() == std::string{ms[ms.size() - 3].name});
  CHECK_FALSE(resources::is_migrated(conn));
  auto rest = resources::apply_migrations(conn);
  REQUIRE(rest.size() == 2);
  CHECK(rest[0] == stop);
  CHECK(resources::is_migrated(conn));
}
