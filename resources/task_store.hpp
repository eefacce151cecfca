#pragma once
/// The task store: everything the orchestration does to templates, tasks and
/// steps in PostgreSQL, each operation one set-based SQL function call inside
/// the caller's transaction (so a batch commits or rolls back as a whole).
///
/// Call it in READ COMMITTED transactions (the default): duplicate detection
/// and claims rely on each statement seeing rows committed concurrently.
/// Every operation throws store_error for a refusal the caller can act on and
/// lets other pqxx errors (lost connection, ...) through; after either the
/// transaction is aborted.

#include "resources/store_claims.hpp"
#include "resources/store_error.hpp"
#include "resources/store_readiness.hpp"
#include "resources/store_states.hpp"
#include "resources/store_tasks.hpp"
#include "resources/store_templates.hpp"
