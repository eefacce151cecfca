#pragma once
/// The templates every scenario runs, all in namespace `bench`, every step the
/// built-in `noop` handler: the cost measured is the runtime's, not the work's.

#include <array>
#include <string_view>

namespace tasker::bench {

/// The namespace of every bench template; its step queue is `bench_queue`.
inline constexpr std::string_view bench_namespace = "bench";

/// One step.
inline constexpr std::string_view single_template = R"(
namespace = "bench"
name = "single"
version = "1.0.0"
[[steps]]
name = "only"
handler = "noop"
)";

/// start -> (left, right) -> join.
inline constexpr std::string_view diamond_template = R"(
namespace = "bench"
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
)";

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

/// Every template above, registered in each scenario's database.
inline constexpr std::array<std::string_view, 3> all_templates{single_template, diamond_template,
                                                               linear_template};

} // namespace tasker::bench
