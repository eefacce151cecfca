#pragma once
/// The template registry: task templates stored as named tasks and named
/// steps (0003_orchestration.sql, tasker_register_named_task).

#include "messaging/task_template.hpp"
#include "resources/store_error.hpp"

#include <pqxx/pqxx>

#include <string>

namespace tasker::resources {

/// The outcome of registering a template.
struct registered_template {
  std::string named_task_uuid; ///< the stored (namespace, name, version)
  bool created = false;        ///< false when identical content was already registered
};

/// Validates `tmpl` (throws messaging::template_error) and stores it with its
/// namespace (created when missing) and steps in topological order, in one
/// round trip. Re-registering identical content is a no-op; different content
/// under an existing version throws store_error (template_conflict) naming
/// "<namespace>/<name>@<version>". The namespace's queue is not created here.
registered_template register_template(pqxx::transaction_base& tx,
                                      const messaging::task_template& tmpl);

} // namespace tasker::resources
