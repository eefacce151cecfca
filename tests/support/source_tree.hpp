#pragma once
/// The source tree the tests read files from (templates, configuration,
/// scripts): TASKER_SOURCE_DIR, which ctest sets for every test binary.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

namespace tasker::testing {

/// The root of the source tree; fails the test when TASKER_SOURCE_DIR is unset.
inline std::filesystem::path source_dir() {
  const char* root = std::getenv("TASKER_SOURCE_DIR");
  REQUIRE_MESSAGE(root != nullptr, "TASKER_SOURCE_DIR is not set; run the tests through ctest");
  return std::filesystem::path{root};
}

} // namespace tasker::testing
