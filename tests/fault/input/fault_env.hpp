#pragma once
/// Shared knobs of the input fault suite: the long variant switch and crash
/// markers to look for in a process's output.

#include <cstdlib>
#include <string>
#include <string_view>

namespace tasker::fault {

/// The orchestration queues under their shipped names (config/tasker/queues.toml).
inline constexpr const char* requests_queue = "orchestration_task_requests";
inline constexpr const char* results_queue = "orchestration_step_results";

/// True when TASKER_FAULT_LONG=1 asks for the long variants.
inline bool long_run() {
  const char* v = std::getenv("TASKER_FAULT_LONG");
  return v != nullptr && std::string_view{v} == "1";
}

/// The first crash marker (abort, signal, sanitizer report) in `output`, or "".
inline std::string crash_marker(const std::string& output) {
  for (const char* marker :
       {"terminate called", "Segmentation fault", "Aborted", "core dumped", "AddressSanitizer",
        "LeakSanitizer", "runtime error:", "stack smashing", "double free", "bad_alloc",
        "Assertion", "uncaught exception"}) {
    if (output.find(marker) != std::string::npos)
      return marker;
  }
  return {};
}

} // namespace tasker::fault
