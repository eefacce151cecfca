#pragma once
/// printf-style formatting into std::string for decision reasons.

#include <string>

namespace tasker::coordinator::detail {

/// Formats like snprintf; the attribute lets the compiler check arguments.
std::string format_text(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

} // namespace tasker::coordinator::detail
