#include "config/redact.hpp"

#include <cctype>

namespace tasker::config {

namespace {

constexpr std::string_view mask = "***";

/// Masks the value of every `password=` occurrence that starts a parameter.
/// `separators` are the characters that end a value.
std::string mask_password_params(std::string text, std::string_view separators) {
  constexpr std::string_view key = "password=";
  std::size_t pos = 0;
  while ((pos = text.find(key, pos)) != std::string::npos) {
    bool starts_param = pos == 0 || text[pos - 1] == '?' || text[pos - 1] == '&' ||
                        std::isspace(static_cast<unsigned char>(text[pos - 1]));
    auto value = pos + key.size();
    if (!starts_param) {
      pos = value;
      continue;
    }
    std::size_t end = value;
    if (end < text.size() && text[end] == '\'') { // key='quoted value'
      end = text.find('\'', end + 1);
      end = end == std::string::npos ? text.size() : end + 1;
    } else {
      end = text.find_first_of(separators, value);
      if (end == std::string::npos)
        end = text.size();
    }
    text.replace(value, end - value, mask);
    pos = value + mask.size();
  }
  return text;
}

} // namespace

std::string redact_url(std::string_view url) {
  std::string text{url};
  auto scheme = text.find("://");
  if (scheme == std::string::npos)
    return mask_password_params(std::move(text), " \t\n");
  auto authority = scheme + 3;
  auto authority_end = text.find_first_of("/?", authority);
  if (authority_end == std::string::npos)
    authority_end = text.size();
  // The last '@' ends the userinfo: an unescaped '@' may appear in a password.
  auto at = text.rfind('@', authority_end);
  if (at != std::string::npos && at >= authority) {
    auto colon = text.find(':', authority);
    if (colon != std::string::npos && colon < at)
      text.replace(colon + 1, at - colon - 1, mask);
  }
  return mask_password_params(std::move(text), "&#");
}

bool is_secret_setting(std::string_view path) {
  return path == "telemetry.inspector.tls.passphrase";
}

std::string redact_setting(std::string_view path, std::string_view value) {
  if (path == "database.url")
    return redact_url(value);
  if (!is_secret_setting(path) || value.empty() || value == "\"\"")
    return std::string{value};
  bool quoted = value.size() >= 2 && value.front() == '"' && value.back() == '"';
  return quoted ? "\"" + std::string{mask} + "\"" : std::string{mask};
}

} // namespace tasker::config
