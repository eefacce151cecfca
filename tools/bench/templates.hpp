#pragma once
/// The templates every scenario runs, all in namespace `bench`, every step the
/// built-in `noop` handler: the cost measured is the runtime's, not the work's.

#include "tools/common/noop_templates.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace tasker::bench {

/// The namespace of every bench template; its step queue is `bench_queue`.
inline constexpr std::string_view bench_namespace = "bench";

/// a -> b -> c -> d.
inline constexpr std::string_view linear_template = R"(
namespace = "bench"
name = "linear4"
version = "1.0.0"
[[steps]]
name = "a"
handler = "noop"
[[steps]]
name = "b"
handler = "noop"
depends_on = ["a"]
[[steps]]
name = "c"
handler = "noop"
depends_on = ["b"]
[[steps]]
name = "d"
handler = "noop"
depends_on = ["c"]
)";

/// Every template a scenario runs, registered in its database: bench/single
/// and bench/diamond (tools/common/noop_templates.hpp) and the one above.
inline std::vector<std::string> all_templates() {
  return {tools::single_step_template(bench_namespace), tools::diamond_template(bench_namespace),
          std::string{linear_template}};
}

} // namespace tasker::bench
