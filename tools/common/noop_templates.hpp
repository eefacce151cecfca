#pragma once
/// Task templates whose every step runs the built-in `noop` handler, as TOML
/// text, in a namespace of the caller's choice: the benchmark and the
/// integration and fault suites register them to measure or exercise the
/// runtime rather than the work.

#include <string>
#include <string_view>

namespace tasker::tools {

/// `namespace = "<ns>"` followed by `body`.
inline std::string in_namespace(std::string_view ns, std::string_view body) {
  std::string text{"\nnamespace = \""};
  text.append(ns).append("\"");
  text.append(body);
  return text;
}

/// <ns>/single@1.0.0: one step, named "only".
inline std::string single_step_template(std::string_view ns) {
  return in_namespace(ns, R"(
name = "single"
version = "1.0.0"
[[steps]]
name = "only"
handler = "noop"
)");
}

/// <ns>/diamond@1.0.0: start -> (left, right) -> join.
inline std::string diamond_template(std::string_view ns) {
  return in_namespace(ns, R"(
name = "diamond"
version = "1.0.0"
[[steps]]
name = "start"
handler = "noop"
[[steps]]
name = "left"
handler = "noop"
depends_on = ["start"]
[[steps]]
name = "right"
handler = "noop"
depends_on = ["start"]
[[steps]]
name = "join"
handler = "noop"
depends_on = ["left", "right"]
)");
}

} // namespace tasker::tools
