#include "tools/taskerctl/support.hpp"

#include "config/loader.hpp"
#include "messaging/task_template.hpp"
#include "messaging/wire.hpp"
#include "resources/store_error.hpp"

#include <pqxx/pqxx>

#include <algorithm>
#include <ostream>

namespace tasker::tools::ctl {

pqxx::connection open_database(const std::string& database_url) {
  if (database_url.empty())
    throw usage_error("no database URL: pass --database-url, set TASKER_DATABASE_URL or "
                      "database.url in database.toml");
  return pqxx::connection{database_url};
}

text_table::text_table(std::vector<std::string> headings) : headings_(std::move(headings)) {}

void text_table::add(std::vector<std::string> cells) {
  cells.resize(headings_.size());
  rows_.push_back(std::move(cells));
}

void text_table::print(std::ostream& out) const {
  std::vector<std::size_t> width(headings_.size());
  for (std::size_t i = 0; i < headings_.size(); ++i) {
    width[i] = headings_[i].size();
    for (const auto& row : rows_)
      width[i] = std::max(width[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      text += cells[i];
      if (i + 1 < cells.size())
        text += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    out << text << '\n';
  };
  line(headings_);
  for (const auto& row : rows_)
    line(row);
}

std::string short_time(const std::string& timestamptz) {
  if (timestamptz.empty())
    return "-";
  // "YYYY-MM-DD HH:MM:SS" is the first 19 characters of PostgreSQL's output.
  return timestamptz.substr(0, 19);
}

std::string excerpt(const nlohmann::json& value, std::size_t max_chars) {
  auto text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() <= max_chars)
    return text;
  return text.substr(0, max_chars > 3 ? max_chars - 3 : 0) + "...";
}

template_ref parse_template_ref(const std::string& text, const std::string& what) {
  auto slash = text.find('/');
  auto at = text.find('@');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= text.size() ||
      (at != std::string::npos && (at < slash || at == slash + 1 || at + 1 == text.size())))
    throw usage_error(what + " \"" + text +
                      "\": expected NAMESPACE/NAME or NAMESPACE/NAME@VERSION");
  template_ref ref;
  ref.namespace_name = text.substr(0, slash);
  ref.name = text.substr(slash + 1, at == std::string::npos ? std::string::npos : at - slash - 1);
  if (at != std::string::npos)
    ref.version = text.substr(at + 1);
  return ref;
}

void require_uuid(const std::string& id, const std::string& what) {
  if (!messaging::is_valid_uuid(id))
    throw usage_error(what + " \"" + id + "\" is not a UUID");
}

int run_guarded(std::ostream& err, const std::function<int()>& body) {
  try {
    return body();
  } catch (const usage_error& e) {
    err << "error: " << e.what() << '\n';
    return exit_usage_error;
  } catch (const messaging::template_error& e) {
    err << "error: " << e.what() << '\n';
    return exit_usage_error;
  } catch (const messaging::wire_error& e) {
    err << "error: " << e.what() << '\n';
    return exit_usage_error;
  } catch (const config::config_error& e) {
    err << "error: configuration invalid:\n" << e.what() << '\n';
    return exit_usage_error;
  } catch (const std::invalid_argument& e) {
    err << "error: " << e.what() << '\n';
    return exit_usage_error;
  } catch (const pqxx::broken_connection& e) {
    err << "error: cannot reach the database: " << e.what() << '\n';
    return exit_runtime_error;
  } catch (const pqxx::sql_error& e) {
    // Only the server's first line: the rest is PL/pgSQL context for developers.
    std::string text = e.what();
    if (text.rfind("ERROR:", 0) == 0)
      text = text.substr(text.find_first_not_of(' ', 6));
    err << "error: " << text.substr(0, text.find('\n')) << '\n';
    return exit_runtime_error;
  } catch (const std::exception& e) {
    err << "error: " << e.what() << '\n';
    return exit_runtime_error;
  }
}

} // namespace tasker::tools::ctl
