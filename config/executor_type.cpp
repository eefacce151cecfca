#include "config/executor_type.hpp"

namespace tasker::config {

std::string_view to_string(executor_type type) noexcept {
  switch (type) {
  case executor_type::task_request_processor:
    return "task_request_processor";
  case executor_type::task_claimer:
    return "task_claimer";
  case executor_type::step_enqueuer:
    return "step_enqueuer";
  case executor_type::step_result_processor:
    return "step_result_processor";
  case executor_type::task_finalizer:
    return "task_finalizer";
  }
  return "unknown";
}

std::optional<executor_type> executor_type_from_string(std::string_view name) noexcept {
  for (auto type : all_executor_types)
    if (to_string(type) == name)
      return type;
  return std::nullopt;
}

} // namespace tasker::config
