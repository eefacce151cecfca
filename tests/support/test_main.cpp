// The one translation unit that holds doctest's main and CAF's test-engine
// symbols (caf::test::engine::argc/argv, needed by test_coordinator_fixture).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#define CAF_TEST_NO_MAIN
#include <caf/test/unit_test_impl.hpp>
