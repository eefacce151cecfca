#pragma once
/// Session settings every connection of a node or worker runs with.

#include <pqxx/pqxx>

namespace tasker::resources {

/// Applies Tasker's session settings to `conn`, right after it is opened:
///
/// - `jit = off`. Tasker runs short statements over indexed rows. Once a
///   table grows, the planner's cost estimates for some of them pass
///   `jit_above_cost` and PostgreSQL compiles them with LLVM, which costs far
///   more than running them: a quarter of all CPU time in a burndown of
///   20,000 tasks went to LLVM before this setting.
void apply_session_settings(pqxx::connection_base& conn);

} // namespace tasker::resources
