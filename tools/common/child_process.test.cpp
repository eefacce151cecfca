#include "tools/common/child_process.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

using tasker::tools::child_process;
using namespace std::chrono_literals;

namespace {

// A fresh directory under the system's temporary directory, removed at the end.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tasker-child-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

} // namespace

TEST_CASE("a child's log holds nothing of an earlier run once the child is started") {
  temp_dir dir;
  auto log = (dir.path / "node.log").string();
  std::ofstream{log} << "tasker-node: node old running\n";
  // The child writes its readiness line only after a pause: a waiter that
  // found the earlier run's line would return at once, before it.
  child_process child{"/bin/sh", {"-c", "sleep 0.3; echo fresh running"}, {}, log};
  CHECK(child.output().empty());
  REQUIRE(child.wait_for_output("running", 10s));
  CHECK(child.output() == "fresh running\n");
  CHECK(child.wait(10s) == 0);
}

TEST_CASE("a child's standard output and error both go to its log") {
  temp_dir dir;
  auto log = (dir.path / "both.log").string();
  child_process child{"/bin/sh", {"-c", "echo out; echo err >&2; exit 3"}, {}, log};
  CHECK(child.wait(10s) == 3);
  auto text = child.output();
  CHECK(text.find("out\n") != std::string::npos);
  CHECK(text.find("err\n") != std::string::npos);
}

TEST_CASE("a log that cannot be opened is an error naming it, and no child is started") {
  temp_dir dir;
  auto log = (dir.path / "missing" / "node.log").string();
  CHECK_THROWS_WITH_AS(child_process("/bin/true", {}, {}, log),
                       doctest::Contains("missing/node.log"), std::runtime_error);
}
