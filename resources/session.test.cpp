#include "resources/session.hpp"

#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>

using namespace tasker;

TEST_CASE("session settings turn JIT off") {
  testing::scratch_db db{false};
  pqxx::connection conn{db.url()};
  resources::apply_session_settings(conn);
  auto jit = [&] {
    pqxx::nontransaction tx{conn};
    return tx.exec1("SHOW jit")[0].as<std::string>();
  };
  CHECK(jit() == "off");
  pqxx::connection plain{db.url()};
  pqxx::nontransaction tx{plain};
  CHECK(tx.exec1("SHOW jit")[0].as<std::string>() == "on"); // the server default it overrides
}
