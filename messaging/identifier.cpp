#include "messaging/identifier.hpp"

#include <stdexcept>

namespace tasker::messaging {

bool is_valid_identifier(std::string_view name) noexcept {
  if (name.empty() || name.size() > max_identifier_length)
    return false;
  if (name[0] < 'a' || name[0] > 'z')
    return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

std::string validated_identifier(std::string_view what, std::string_view name) {
  if (!is_valid_identifier(name)) {
    std::string shown{name.substr(0, 64)};
    if (name.size() > 64)
      shown += "...";
    throw std::invalid_argument(
      "invalid " + std::string{what} + " '" + shown
      + "': must match ^[a-z][a-z0-9_]{0,47}$ (lowercase letter first, then up to 47 "
        "lowercase letters, digits or underscores)");
  }
  return std::string{name};
}

} // namespace tasker::messaging
