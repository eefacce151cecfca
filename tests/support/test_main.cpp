// The one translation unit that holds doctest's main and CAF's test-engine
// symbols (caf::test::engine::argc/argv, needed by test_coordinator_fixture).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#define CAF_TEST_NO_MAIN
#include <caf/test/unit_test_impl.hpp>

#include <iostream>
#include <string_view>

namespace {

// How many test cases the run's filters selected.
unsigned selected_cases = 0;

struct selection_listener : doctest::IReporter {
  explicit selection_listener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    selected_cases = stats.numTestCasesPassingFilters;
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

} // namespace

REGISTER_LISTENER("selection", 1, selection_listener);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int rc = context.run();
  if (context.shouldExit())
    return rc; // --list-test-cases and the like, as ctest's discovery runs them
  // ctest runs each case by name (--test-case=<name>). A name that selects
  // nothing would pass without running anything: CMake's discovery splits a
  // case name at every ';', so such a name never matches.
  bool by_name = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg{argv[i]};
    by_name = by_name || arg.rfind("--test-case=", 0) == 0 || arg.rfind("-tc=", 0) == 0;
  }
  if (rc == 0 && by_name && selected_cases == 0) {
    std::cerr << "no test case matches the name given (a ';' in a test case's name splits it "
                 "in ctest's discovery: use another separator)\n";
    return 1;
  }
  return rc;
}
