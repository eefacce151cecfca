#include "messaging/identifier.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using tasker::messaging::is_valid_identifier;
using tasker::messaging::validated_identifier;

TEST_CASE("plain lowercase names are valid identifiers") {
  CHECK(is_valid_identifier("payments"));
  CHECK(is_valid_identifier("orchestration_task_requests"));
  CHECK(is_valid_identifier("a"));
  CHECK(is_valid_identifier("ns2_queue"));
  CHECK(is_valid_identifier(std::string(48, 'a')));
}

TEST_CASE("injection attempts and malformed names are rejected") {
  CHECK_FALSE(is_valid_identifier("a; DROP TABLE x"));
  CHECK_FALSE(is_valid_identifier("a'b"));
  CHECK_FALSE(is_valid_identifier("a\"b"));
  CHECK_FALSE(is_valid_identifier(""));
  CHECK_FALSE(is_valid_identifier("1abc"));
  CHECK_FALSE(is_valid_identifier("_abc"));
  CHECK_FALSE(is_valid_identifier("Payments"));
  CHECK_FALSE(is_valid_identifier("a-b"));
  CHECK_FALSE(is_valid_identifier("a b"));
  CHECK_FALSE(is_valid_identifier(std::string(49, 'a')));
  CHECK_FALSE(is_valid_identifier(std::string(200, 'a')));
  CHECK_FALSE(is_valid_identifier(std::string("ab\0c", 4)));
}

TEST_CASE("a rejected identifier's error names what it was and the value") {
  try {
    validated_identifier("queue name", "a; DROP TABLE x");
    FAIL("expected std::invalid_argument");
  } catch (const std::invalid_argument& e) {
    std::string msg = e.what();
    CHECK(msg.find("queue name") != std::string::npos);
    CHECK(msg.find("a; DROP TABLE x") != std::string::npos);
  }
  CHECK(validated_identifier("namespace", "payments") == "payments");
}
