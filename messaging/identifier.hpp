#pragma once
/// Validation of names that become SQL identifiers (queue and namespace names).

#include <string>
#include <string_view>

namespace tasker::messaging {

/// The longest identifier accepted; leaves room for prefixes such as "q_".
inline constexpr std::size_t max_identifier_length = 48;

/// True when `name` matches ^[a-z][a-z0-9_]{0,47}$.
bool is_valid_identifier(std::string_view name) noexcept;

/// Throws std::invalid_argument naming `what` (e.g. "queue name") and the
/// offending value when `name` is not a valid identifier; returns it otherwise.
std::string validated_identifier(std::string_view what, std::string_view name);

} // namespace tasker::messaging
