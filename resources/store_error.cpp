#include "resources/store_error.hpp"

namespace tasker::resources {

std::string_view to_string(store_errc code) noexcept {
  switch (code) {
  case store_errc::illegal_transition:
    return "illegal_transition";
  case store_errc::not_found:
    return "not_found";
  case store_errc::template_conflict:
    return "template_conflict";
  case store_errc::invalid_request:
    return "invalid_request";
  }
  return "unknown";
}

store_error::store_error(store_errc code, const std::string& message)
    : std::runtime_error(message), code_(code) {}

namespace detail {

std::string pg_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0)
      out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\')
        out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

namespace {

// libpq formats errors as "ERROR:  <text>\nCONTEXT: ..."; the first line
// without the severity is what a person needs.
std::string primary_message(const char* what) {
  std::string text{what};
  constexpr std::string_view prefix = "ERROR:  ";
  if (text.rfind(prefix, 0) == 0)
    text.erase(0, prefix.size());
  if (auto nl = text.find('\n'); nl != std::string::npos)
    text.erase(nl);
  return text;
}

} // namespace

void rethrow_sql_error(const pqxx::sql_error& e) {
  const auto& state = e.sqlstate();
  if (state == "TK001")
    throw store_error(store_errc::illegal_transition, primary_message(e.what()));
  if (state == "TK002")
    throw store_error(store_errc::not_found, primary_message(e.what()));
  if (state == "TK003")
    throw store_error(store_errc::template_conflict, primary_message(e.what()));
  if (state == "TK004")
    throw store_error(store_errc::invalid_request, primary_message(e.what()));
  throw; // keeps the exception's dynamic type (unique_violation, ...)
}

} // namespace detail

} // namespace tasker::resources
