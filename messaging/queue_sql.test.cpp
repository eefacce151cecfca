#include "messaging/queue_sql.hpp"
#include "messaging/queue_client.hpp"
#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

using namespace tasker::messaging;
using detail::pg_array_literal;

TEST_CASE("bigint arrays are written as PostgreSQL array literals") {
  CHECK(pg_array_literal(std::vector<std::int64_t>{}) == "{}");
  CHECK(pg_array_literal(std::vector<std::int64_t>{7}) == "{7}");
  CHECK(pg_array_literal(std::vector<std::int64_t>{1, -2, 9007199254740993}) ==
        "{1,-2,9007199254740993}");
}

TEST_CASE("text array literals quote every element and escape quotes and backslashes") {
  CHECK(pg_array_literal(std::vector<std::string>{}) == "{}");
  CHECK(pg_array_literal(std::vector<std::string>{"a", ""}) == R"({"a",""})");
  CHECK(pg_array_literal(std::vector<std::string>{R"(say "hi" \o/)"}) == R"({"say \"hi\" \\o/"})");
}

TEST_CASE("text array literals survive PostgreSQL unchanged, whatever the text") {
  tasker::testing::scratch_db db{false};
  auto conn = db.connect();
  const std::vector<std::string> values{"plain",
                                        "",
                                        "NULL",
                                        "null",
                                        "with,comma",
                                        "{braces}",
                                        "\"quoted\"",
                                        "back\\slash",
                                        "trailing\\",
                                        "  spaces  ",
                                        "new\nline",
                                        "unicode \xc3\xa9\xe2\x9c\x93",
                                        R"({"json": [1, "two"]})"};
  pqxx::work tx{conn};
  auto r =
      tx.exec_params("SELECT v, n FROM unnest($1::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
                     pg_array_literal(values));
  REQUIRE(r.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    CAPTURE(values[i]);
    CHECK_FALSE(r[i][0].is_null());
    CHECK(r[i][0].as<std::string>() == values[i]);
  }
}

TEST_CASE("every queue statement names a distinct prepared statement") {
  std::set<std::string> names;
  for (const auto* stmt : detail::queue_sql::all())
    names.insert(stmt->name);
  CHECK(names.size() == detail::queue_sql::all().size());
  CHECK(names.size() == 11);
}

TEST_CASE("preparing the queue statements twice on a connection is harmless") {
  tasker::testing::scratch_db db;
  auto conn = db.connect();
  prepare_queue_statements(conn);
  CHECK_NOTHROW(prepare_queue_statements(conn));
  pqxx::work tx{conn};
  queue_client::create_queue(tx, "jobs");
  CHECK(queue_client::send(tx, "jobs", nlohmann::json::object()) > 0);
}
