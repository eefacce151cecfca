#pragma once
/// Test helpers: a throwaway directory tree of TOML files, and the shipped
/// configuration root of the source tree.

#include "tests/support/source_tree.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace tasker::config::testing {

/// A fresh directory under the system temp dir, removed with everything in it.
class temp_dir {
public:
  temp_dir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("tasker-config-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// The directory.
  const std::filesystem::path& path() const { return path_; }

  /// Writes `text` to `relative` (creating parent directories); returns its full path.
  std::filesystem::path write(const std::string& relative, const std::string& text) const {
    auto file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream{file} << text;
    return file;
  }

private:
  std::filesystem::path path_;
};

/// The source tree's config/ (TASKER_SOURCE_DIR is set by ctest).
inline std::filesystem::path shipped_config_dir() {
  return tasker::testing::source_dir() / "config";
}

/// True when `text` contains `part`.
inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace tasker::config::testing
