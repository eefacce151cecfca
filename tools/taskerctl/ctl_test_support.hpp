#pragma once
/// Shared setup for the operator command tests: a scratch database, a context
/// pointing at it, and a runner that captures what a command printed.

#include "tests/support/scratch_db.hpp"
#include "tools/taskerctl/operator_commands.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>

namespace tasker::tools::ctl::test {

/// What one command printed and returned.
struct ran {
  int code = -1;   ///< exit code
  std::string out; ///< standard output
  std::string err; ///< standard error

  /// The output parsed as JSON (fails the test when it is not JSON).
  nlohmann::json json() const {
    auto doc = nlohmann::json::parse(out, nullptr, false);
    REQUIRE_MESSAGE(!doc.is_discarded(), "not JSON: " << out);
    return doc;
  }
};

/// A scratch database and the context of commands acting on it.
struct ctl_fixture {
  testing::scratch_db db;
  ctl_context ctx;

  ctl_fixture() { ctx.database_url = db.url(); }

  /// `ctx` with json output.
  ctl_context json() const {
    auto c = ctx;
    c.json = true;
    return c;
  }

  /// Runs `command(out, err)` and captures both streams.
  static ran run(const std::function<int(std::ostream&, std::ostream&)>& command) {
    std::ostringstream out, err;
    ran r;
    r.code = command(out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }
};

/// The shipped example templates (TASKER_SOURCE_DIR is set by ctest).
inline std::filesystem::path example(const std::string& file) {
  const char* root = std::getenv("TASKER_SOURCE_DIR");
  REQUIRE_MESSAGE(root != nullptr, "TASKER_SOURCE_DIR is not set; run the tests through ctest");
  return std::filesystem::path{root} / "examples" / "templates" / file;
}

/// True when `text` contains `part`.
inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace tasker::tools::ctl::test
