#pragma once
/// The schema of the configuration: every leaf key, its type, its allowed
/// range and where it lives in `tasker_config`. The loader, `config show`,
/// the environment-variable mapping and the exporters all walk this one table,
/// so a key added here is known everywhere.

#include "config/tasker_config.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tasker::config {

/// A writable reference to one leaf of a `tasker_config`.
using value_ref = std::variant<bool*, int*, double*, std::string*, std::optional<int>*>;

/// The type of a leaf, in the order of the alternatives of `value_ref`.
enum class value_kind { boolean, integer, floating, string, optional_integer };

/// One leaf key of the configuration.
struct field {
  std::string path;                 ///< dotted key, e.g. "database.pool.max_connections"
  value_kind kind;                  ///< the TOML type it takes
  double min = 0;                   ///< inclusive lower bound (numbers only)
  double max = 0;                   ///< inclusive upper bound (numbers only)
  std::vector<std::string> choices; ///< allowed strings; empty means any
  std::function<value_ref(tasker_config&)> ref; ///< where the value lives
};

/// Every leaf key, in the order `config show` prints them.
const std::vector<field>& fields();

/// The field at `path`, or null when no leaf has that key.
const field* find_field(std::string_view path);

/// "unknown key <path>", and for a key that existed once, why it is gone and
/// what replaces it: the loader's message for any key the schema lacks.
std::string unknown_key(std::string_view path);

/// True when `path` names a table that contains fields (e.g. "executor_pools").
bool is_section(std::string_view path);

/// A readable name for a kind ("an integer", "a boolean", ...).
std::string_view kind_name(value_kind kind) noexcept;

/// The environment variable that overrides `path`:
/// "executor_pools.task_claimer.max_executors" ->
/// "TASKER_EXECUTOR_POOLS__TASK_CLAIMER__MAX_EXECUTORS".
std::string env_name(std::string_view path);

/// The key a `TASKER_A__B` variable overrides ("a.b"), or nothing when the
/// variable does not follow the `__` scheme.
std::optional<std::string> path_from_env_name(std::string_view variable);

} // namespace tasker::config
