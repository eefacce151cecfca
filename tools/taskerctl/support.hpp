#pragma once
/// What the operator commands share: the database connection, aligned text
/// tables for people, short timestamps, message excerpts, template
/// references, and the one place that turns an exception into an error line
/// and an exit code.

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <functional>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

namespace tasker::tools::ctl {

/// Exit code: the command did what was asked.
inline constexpr int exit_ok = 0;
/// Exit code: the command was valid but failed (database, refused action, timeout).
inline constexpr int exit_runtime_error = 1;
/// Exit code: the command line or an input file was invalid.
inline constexpr int exit_usage_error = 2;

/// An invalid argument or input; reported with exit code 2.
class usage_error : public std::runtime_error {
public:
  /// Wraps a message that names the argument and what is wrong with it.
  using std::runtime_error::runtime_error;
};

/// A failure the operator can act on; reported with exit code 1.
class command_failed : public std::runtime_error {
public:
  /// Wraps a message that names the task, queue or template involved.
  using std::runtime_error::runtime_error;
};

/// Connects to `database_url`; throws usage_error when it is empty, saying
/// where a URL can come from.
pqxx::connection open_database(const std::string& database_url);

/// A table printed with every column padded to its widest cell.
class text_table {
public:
  /// Starts a table with these column headings.
  explicit text_table(std::vector<std::string> headings);

  /// Appends a row; missing cells print empty, extra cells are dropped.
  void add(std::vector<std::string> cells);

  /// Number of rows added.
  std::size_t size() const noexcept { return rows_.size(); }

  /// Writes the headings and rows, two spaces between columns.
  void print(std::ostream& out) const;

private:
  std::vector<std::string> headings_;
  std::vector<std::vector<std::string>> rows_;
};

/// A PostgreSQL timestamptz text cut to whole seconds ("2026-01-31 12:00:00");
/// "-" for an empty value.
std::string short_time(const std::string& timestamptz);

/// The JSON text of `value` on one line, cut to `max_chars` with "..." when longer.
std::string excerpt(const nlohmann::json& value, std::size_t max_chars = 60);

/// A template reference "NAMESPACE/NAME[@VERSION]".
struct template_ref {
  std::string namespace_name; ///< before the slash
  std::string name;           ///< between the slash and the @
  std::string version;        ///< after the @; empty means the latest
};

/// Parses "NAMESPACE/NAME[@VERSION]"; throws usage_error naming `what` and the text.
template_ref parse_template_ref(const std::string& text, const std::string& what = "template");

/// Throws usage_error unless `id` is a UUID; `what` names it (e.g. "task id").
void require_uuid(const std::string& id, const std::string& what);

/// Runs `body`, mapping exceptions to an "error: ..." line on `err` and an
/// exit code: usage_error, template and wire errors, std::invalid_argument → 2;
/// everything else (database, refused actions, command_failed) → 1.
int run_guarded(std::ostream& err, const std::function<int()>& body);

} // namespace tasker::tools::ctl
