#pragma once
/// Routes CAF's test DSL (expect/inject/allow, test_coordinator_fixture) to
/// doctest assertions. Include it last: dsl.hpp defines lowercase macros.
#include <doctest/doctest.h> // first: dsl.hpp calls a bare FAIL(...) that doctest defines
#include <caf/test/unit_test.hpp>
#undef CAF_CHECK
#undef CAF_CHECK_EQUAL
#undef CAF_REQUIRE
#undef CAF_REQUIRE_EQUAL
#undef CAF_FAIL
#undef CAF_MESSAGE
#define CAF_CHECK(...) CHECK(__VA_ARGS__)
#define CAF_CHECK_EQUAL(x, y) CHECK((x) == (y))
#define CAF_REQUIRE(...) REQUIRE(__VA_ARGS__)
#define CAF_REQUIRE_EQUAL(x, y) REQUIRE((x) == (y))
#define CAF_FAIL(msg) FAIL(msg)
#define CAF_MESSAGE(msg) static_cast<void>(0)
#include <caf/test/dsl.hpp>
