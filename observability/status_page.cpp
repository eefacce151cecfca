#include "observability/status_page.hpp"

#include <stdexcept>
#include <utility>
#include <vector>

namespace tasker::observability::detail {
// Generated from status_page.html by cmake/EmbedFiles.cmake.
const std::vector<std::pair<std::string_view, std::string_view>>& embedded_page();
} // namespace tasker::observability::detail

namespace tasker::observability {

std::string_view status_page_html() {
  for (auto& [name, text] : detail::embedded_page())
    if (name == "status_page.html")
      return text;
  throw std::logic_error("status_page.html was not embedded at build time");
}

} // namespace tasker::observability
