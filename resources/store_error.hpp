#pragma once
/// Errors of the task store: the project SQLSTATEs raised by the orchestration
/// SQL (TK001..TK004), turned into one exception type callers can switch on.

#include <pqxx/pqxx>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tasker::resources {

/// What went wrong in a task-store call.
enum class store_errc {
  illegal_transition, ///< a row's current state does not allow the move (TK001)
  not_found,          ///< a task, step, namespace or template does not exist (TK002)
  template_conflict,  ///< a template version re-registered with other content (TK003)
  invalid_request,    ///< a malformed request or a damaged stored template (TK004)
};

/// The name of an error code, e.g. "illegal_transition".
std::string_view to_string(store_errc code) noexcept;

/// A refused task-store operation. The message names the rows, states,
/// template or request index involved. The caller's transaction is aborted.
class store_error : public std::runtime_error {
public:
  /// Wraps `message` (the database's text, without its "ERROR:" prefix).
  store_error(store_errc code, const std::string& message);

  /// The kind of failure.
  store_errc code() const noexcept { return code_; }

private:
  store_errc code_;
};

namespace detail {

/// A PostgreSQL array literal of `items`, each element quoted, for `$n::uuid[]`.
std::string pg_array(const std::vector<std::string>& items);

/// Throws store_error for a project SQLSTATE; rethrows the exception being
/// handled otherwise, so it must be called from inside a catch block for `e`.
[[noreturn]] void rethrow_sql_error(const pqxx::sql_error& e);

/// Runs statement `sql` under `name`, prepared once per connection (an
/// identical re-preparation is a no-op): the store's calls run on every batch,
/// and a prepared one is neither parsed nor planned again.
template <class... Args>
pqxx::result exec_prepared_once(pqxx::transaction_base& tx, const std::string& name,
                                const std::string& sql, Args&&... args) {
  tx.conn().prepare(name, sql);
  return tx.exec_prepared(name, std::forward<Args>(args)...);
}

/// Runs `f`, translating project SQLSTATEs into store_error.
template <class F>
auto translating(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const pqxx::sql_error& e) {
    rethrow_sql_error(e);
  }
}

} // namespace detail

} // namespace tasker::resources
