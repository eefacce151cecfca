#include "actors/handlers/handler_registry.hpp"

#include "actors/handlers/builtin_handlers.hpp"

namespace tasker::actors {

handler_result handler_result::ok(nlohmann::json results) {
  handler_result r;
  r.success = true;
  r.results = std::move(results);
  return r;
}

handler_result handler_result::failure(std::string message, bool retryable) {
  handler_result r;
  r.success = false;
  r.results = nullptr;
  r.error_message = std::move(message);
  r.retryable = retryable;
  return r;
}

void handler_registry::register_handler(std::string name, step_handler fn) {
  handlers_.insert_or_assign(std::move(name), std::move(fn));
}

const step_handler* handler_registry::find(std::string_view name) const {
  auto i = handlers_.find(name);
  return i == handlers_.end() ? nullptr : &i->second;
}

std::vector<std::string> handler_registry::names() const {
  std::vector<std::string> out;
  out.reserve(handlers_.size());
  for (const auto& entry : handlers_)
    out.push_back(entry.first);
  return out;
}

std::shared_ptr<handler_registry> make_builtin_registry(const builtin_options& options) {
  auto reg = std::make_shared<handler_registry>();
  reg->register_handler("noop", handlers::noop);
  reg->register_handler("sleep", handlers::sleep);
  reg->register_handler("fail", handlers::fail);
  reg->register_handler("command", [max = options.max_command_output_bytes](
                                       const messaging::step_message& step) {
    return handlers::command(step, max);
  });
  reg->register_handler("http", handlers::make_http_handler(options.allowed_http_hosts));
  return reg;
}

} // namespace tasker::actors
