#pragma once
/// Test support: a checker for the Prometheus text exposition format.

#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace tasker::testing {

/// The metric names in Prometheus text `text`; a line that is neither a
/// comment nor `name{labels} value` is reported in `bad`.
inline std::vector<std::string> exposition_names(const std::string& text,
                                                 std::vector<std::string>& bad) {
  static const std::regex sample{
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? )"
      R"(([-+]?([0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?|Inf|NaN))( [0-9]+)?$)"};
  std::vector<std::string> names;
  std::istringstream in{text};
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (line.empty() || line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0)
      continue;
    if (std::regex_match(line, m, sample))
      names.push_back(m[1]);
    else
      bad.push_back(line);
  }
  return names;
}

} // namespace tasker::testing
