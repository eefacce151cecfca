#include "resources/store_templates.hpp"

#include "messaging/identifier.hpp"

#include <algorithm>

namespace tasker::resources {

registered_template register_template(pqxx::transaction_base& tx,
                                      const messaging::task_template& tmpl) {
  messaging::validate_template(tmpl);
  messaging::validated_identifier("namespace name", tmpl.namespace_name);
  // Positions follow the topological order so creation can check, cheaply,
  // that every dependency points backwards (no cycle survived storage).
  auto steps = nlohmann::json::array();
  for (const auto& name : messaging::topological_order(tmpl)) {
    auto it = std::find_if(tmpl.steps.begin(), tmpl.steps.end(),
                           [&](const messaging::step_template& s) { return s.name == name; });
    const auto& s = *it;
    steps.push_back({{"name", s.name},
                     {"handler", s.handler},
                     {"depends_on", s.depends_on},
                     {"retryable", s.retryable},
                     {"retry_limit", s.retry_limit},
                     {"backoff_base_ms", s.backoff.base_ms},
                     {"backoff_max_ms", s.backoff.max_ms},
                     {"backoff_jitter", s.backoff.jitter},
                     {"timeout_seconds", s.timeout_seconds},
                     {"inputs", s.inputs}});
  }
  auto row = detail::translating([&] {
    return tx.exec_params1(
        "SELECT named_task_uuid, created FROM tasker_register_named_task($1, $2, $3, $4,"
        " $5::jsonb, $6::jsonb)",
        tmpl.namespace_name, tmpl.name, tmpl.version, tmpl.description, tmpl.to_json().dump(),
        steps.dump());
  });
  return {row[0].as<std::string>(), row[1].as<bool>()};
}

} // namespace tasker::resources
