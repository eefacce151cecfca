#pragma once
/// Field readers shared by the wire message parsers: each names the message
/// and field in its errors, so every parser reports problems the same way.

#include "messaging/wire.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tasker::messaging::detail {

/// Parses message text, enforcing the size limit and that it is a JSON object.
nlohmann::json parse_message_text(std::string_view message, std::string_view text,
                                  std::size_t max_bytes);

/// Reads the fields of one JSON object, naming "<prefix>.<field>" in errors.
/// A null value counts as absent for optional fields, since many JSON
/// libraries write null for an unset optional.
class field_reader {
public:
  /// Throws wire_error (invalid_json at the top level, invalid_field below)
  /// unless `object` is a JSON object.
  field_reader(const nlohmann::json& object, std::string prefix, bool top_level);

  /// The value of `key`, or nullptr when absent or null.
  const nlohmann::json* find(std::string_view key) const;

  /// A required string (empty allowed only when `allow_empty`).
  std::string string(std::string_view key, bool allow_empty = false) const;

  /// An optional string; `fallback` when absent.
  std::string string_or(std::string_view key, std::string fallback) const;

  /// An optional string; nullopt when absent.
  std::optional<std::string> optional_string(std::string_view key) const;

  /// A required UUID in 8-4-4-4-12 hexadecimal form.
  std::string uuid(std::string_view key) const;

  /// A required SQL identifier (^[a-z][a-z0-9_]{0,47}$).
  std::string identifier(std::string_view key) const;

  /// A required boolean.
  bool boolean(std::string_view key) const;

  /// A required integer within [min, max].
  std::int64_t integer(std::string_view key, std::int64_t min, std::int64_t max) const;

  /// An optional integer within [min, max].
  std::optional<std::int64_t> optional_integer(std::string_view key, std::int64_t min,
                                               std::int64_t max) const;

  /// An optional finite number >= `min`.
  std::optional<double> optional_number(std::string_view key, double min) const;

  /// An optional JSON object; empty when absent.
  nlohmann::json object_or_empty(std::string_view key) const;

  /// The full path of `key`, such as "step_result.error.message".
  std::string path(std::string_view key) const;

  /// Throws wire_error(invalid_field) for `key`.
  [[noreturn]] void fail(std::string_view key, const std::string& problem) const;

private:
  const nlohmann::json& require(std::string_view key) const;
  [[noreturn]] void wrong(std::string_view key, std::string_view expected,
                          const nlohmann::json& got) const;

  const nlohmann::json& object_;
  std::string prefix_;
};

} // namespace tasker::messaging::detail
