#include "messaging/wire_fields.hpp"

#include "messaging/identifier.hpp"

#include <cmath>

namespace tasker::messaging::detail {

namespace {

using nlohmann::json;

// Enough of a value to recognise it, never a whole 1 MiB payload in a log.
std::string describe(const json& value) {
  constexpr std::size_t limit = 64;
  auto text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > limit)
    text = text.substr(0, limit) + "...";
  return text;
}

} // namespace

json parse_message_text(std::string_view message, std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes)
    throw wire_error(wire_error::kind::too_large, std::string{message},
                     "message is " + std::to_string(text.size()) + " bytes, over the limit of " +
                         std::to_string(max_bytes) + " bytes");
  json parsed;
  try {
    parsed = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // what() starts with "[json.exception.parse_error.101] "; the id says
    // nothing to a reader of the archive.
    std::string detail = e.what();
    if (auto end = detail.find("] ");
        detail.rfind("[json.exception", 0) == 0 && end != std::string::npos)
      detail.erase(0, end + 2);
    throw wire_error(wire_error::kind::invalid_json, std::string{message},
                     "invalid JSON at byte " + std::to_string(e.byte) + ": " + detail);
  } catch (const json::exception& e) {
    // Valid JSON that the parser cannot hold, e.g. a number beyond double
    // range (1e400), which PostgreSQL's jsonb accepts.
    std::string detail = e.what();
    if (auto end = detail.find("] ");
        detail.rfind("[json.exception", 0) == 0 && end != std::string::npos)
      detail.erase(0, end + 2);
    throw wire_error(wire_error::kind::invalid_json, std::string{message},
                     "unsupported JSON: " + detail);
  }
  if (!parsed.is_object())
    throw wire_error(wire_error::kind::invalid_json, std::string{message},
                     std::string{"expected a JSON object, got "} + parsed.type_name());
  return parsed;
}

field_reader::field_reader(const json& object, std::string prefix, bool top_level)
    : object_(object), prefix_(std::move(prefix)) {
  if (!object_.is_object())
    throw wire_error(top_level ? wire_error::kind::invalid_json : wire_error::kind::invalid_field,
                     prefix_, "expected object, got " + describe(object_));
}

std::string field_reader::path(std::string_view key) const {
  return prefix_ + "." + std::string{key};
}

void field_reader::fail(std::string_view key, const std::string& problem) const {
  throw wire_error(wire_error::kind::invalid_field, path(key), problem);
}

void field_reader::wrong(std::string_view key, std::string_view expected, const json& got) const {
  fail(key, "expected " + std::string{expected} + ", got " + describe(got));
}

const json* field_reader::find(std::string_view key) const {
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null())
    return nullptr;
  return &*it;
}

const json& field_reader::require(std::string_view key) const {
  auto it = object_.find(key);
  if (it == object_.end())
    fail(key, "required field is missing");
  return *it;
}

std::string field_reader::string(std::string_view key, bool allow_empty) const {
  const auto& v = require(key);
  if (!v.is_string() || (!allow_empty && v.get_ref<const std::string&>().empty()))
    wrong(key, allow_empty ? "string" : "non-empty string", v);
  return v.get<std::string>();
}

std::string field_reader::string_or(std::string_view key, std::string fallback) const {
  auto value = optional_string(key);
  return value ? std::move(*value) : std::move(fallback);
}

std::optional<std::string> field_reader::optional_string(std::string_view key) const {
  const auto* v = find(key);
  if (v == nullptr)
    return std::nullopt;
  if (!v->is_string())
    wrong(key, "string", *v);
  return v->get<std::string>();
}

std::string field_reader::uuid(std::string_view key) const {
  const auto& v = require(key);
  if (!v.is_string() || !is_valid_uuid(v.get_ref<const std::string&>()))
    wrong(key, "UUID string (8-4-4-4-12 hexadecimal digits)", v);
  return v.get<std::string>();
}

std::string field_reader::identifier(std::string_view key) const {
  const auto& v = require(key);
  if (!v.is_string() || !is_valid_identifier(v.get_ref<const std::string&>()))
    wrong(key, "identifier matching ^[a-z][a-z0-9_]{0,47}$", v);
  return v.get<std::string>();
}

bool field_reader::boolean(std::string_view key) const {
  const auto& v = require(key);
  if (!v.is_boolean())
    wrong(key, "boolean", v);
  return v.get<bool>();
}

std::int64_t field_reader::integer(std::string_view key, std::int64_t min, std::int64_t max) const {
  const auto& v = require(key);
  auto value = optional_integer(key, min, max);
  if (!value)
    wrong(key, "integer in " + std::to_string(min) + ".." + std::to_string(max), v);
  return *value;
}

std::optional<std::int64_t> field_reader::optional_integer(std::string_view key, std::int64_t min,
                                                           std::int64_t max) const {
  const auto* v = find(key);
  if (v == nullptr)
    return std::nullopt;
  auto range = "integer in " + std::to_string(min) + ".." + std::to_string(max);
  // Unsigned values above INT64_MAX are out of every range used here.
  if (!v->is_number_integer() ||
      (v->is_number_unsigned() &&
       v->get<std::uint64_t>() > static_cast<std::uint64_t>(max < 0 ? 0 : max)))
    wrong(key, range, *v);
  auto value = v->get<std::int64_t>();
  if (value < min || value > max)
    wrong(key, range, *v);
  return value;
}

std::optional<double> field_reader::optional_number(std::string_view key, double min) const {
  const auto* v = find(key);
  if (v == nullptr)
    return std::nullopt;
  if (!v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() < min)
    wrong(key, "number >= " + describe(json(min)), *v);
  return v->get<double>();
}

json field_reader::object_or_empty(std::string_view key) const {
  const auto* v = find(key);
  if (v == nullptr)
    return json::object();
  if (!v->is_object())
    wrong(key, "object", *v);
  return *v;
}

} // namespace tasker::messaging::detail
