#include "coordinator/detail/text.hpp"

#include <cstdarg>
#include <cstdio>

namespace tasker::coordinator::detail {

std::string format_text(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list again;
  va_copy(again, args);
  const int needed = std::vsnprintf(nullptr, 0, fmt, args);
  va_end(args);
  std::string out;
  if (needed > 0) {
    out.resize(static_cast<std::size_t>(needed) + 1);
    std::vsnprintf(out.data(), out.size(), fmt, again);
    out.resize(static_cast<std::size_t>(needed));
  }
  va_end(again);
  return out;
}

} // namespace tasker::coordinator::detail
