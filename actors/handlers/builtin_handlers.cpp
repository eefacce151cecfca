#include "actors/handlers/builtin_handlers.hpp"

#include <chrono>
#include <cstdint>
#include <thread>

namespace tasker::actors::handlers {

namespace {

/// A non-negative integer input, `fallback` when absent; nullopt when ill-typed.
std::optional<std::int64_t> integer_input(const nlohmann::json& inputs, const char* key,
                                          std::int64_t fallback) {
  if (!inputs.is_object() || !inputs.contains(key) || inputs[key].is_null())
    return fallback;
  const auto& v = inputs[key];
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0)
    return std::nullopt;
  return v.get<std::int64_t>();
}

std::string bad_integer(const char* key) {
  return std::string{"inputs."} + key + ": expected a non-negative integer";
}

} // namespace

handler_result noop(const messaging::step_message& step) {
  return handler_result::ok({{"handler", "noop"}, {"step_name", step.step_name},
                             {"attempt", step.attempt}});
}

handler_result sleep(const messaging::step_message& step) {
  auto ms = integer_input(step.inputs, "ms", 0);
  if (!ms)
    return handler_result::failure(bad_integer("ms"), false);
  std::this_thread::sleep_for(std::chrono::milliseconds{*ms});
  return handler_result::ok({{"slept_ms", *ms}});
}

handler_result fail(const messaging::step_message& step) {
  auto failures = integer_input(step.inputs, "failures", 1);
  if (!failures)
    return handler_result::failure(bad_integer("failures"), false);
  if (step.attempt <= *failures)
    return handler_result::failure("planned failure " + std::to_string(step.attempt) + " of "
                                   + std::to_string(*failures));
  return handler_result::ok({{"attempt", step.attempt}, {"failures", *failures}});
}

} // namespace tasker::actors::handlers
