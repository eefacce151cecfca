#pragma once
/// Schema migrations: the ordered `.sql` files of resources/sql/migrations,
/// compiled into the binary and applied once each, in name order.

#include <pqxx/pqxx>

#include <string>
#include <string_view>
#include <vector>

namespace tasker::resources {

/// One migration file as compiled into the binary.
struct migration {
  std::string_view name; ///< file name, e.g. "0001_core.sql"; also its version
  std::string_view sql;  ///< the statements it runs
};

/// Every migration, ordered by name.
std::vector<migration> migrations();

/// Applies every migration that `conn`'s database has not recorded yet, each in
/// its own transaction, under an advisory lock so concurrent nodes cannot race.
/// Returns the names applied (empty when the schema was already current).
std::vector<std::string> apply_migrations(pqxx::connection& conn);

/// As above, only the migrations named before `first_left_out` (by name
/// order): the schema as a release before that migration left it, e.g. to
/// test an upgrade.
std::vector<std::string> apply_migrations(pqxx::connection& conn,
                                          std::string_view first_left_out);

/// True when every compiled-in migration is recorded in the database.
bool is_migrated(pqxx::connection& conn);

} // namespace tasker::resources
