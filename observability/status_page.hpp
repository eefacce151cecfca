#pragma once
/// The status page served on `/`: one self-contained HTML document (inline
/// CSS and script, no external assets) that polls the JSON health endpoints
/// every two seconds and draws pools, throughput, backpressure, database
/// saturation and scaling events over time. The document is
/// `observability/status_page.html`, embedded in the binary at build time.

#include <string_view>

namespace tasker::observability {

/// The id of the page's script element; tests look for it.
inline constexpr std::string_view status_page_script_id = "tasker-status-script";

/// The page's HTML.
std::string_view status_page_html();

} // namespace tasker::observability
