#pragma once
/// Database URLs carry passwords and some settings are secrets; everything
/// that prints configuration goes through here.

#include <string>
#include <string_view>

namespace tasker::config {

/// `url` with any password replaced by "***": the userinfo password of a
/// postgresql:// URL, a `password=` query parameter, and the `password=`
/// key of a libpq key=value string. Text without a password is returned as is.
std::string redact_url(std::string_view url);

/// True for a setting whose value is a secret and is never printed
/// (`telemetry.inspector.tls.passphrase`).
bool is_secret_setting(std::string_view path);

/// The text to print for setting `path` whose formatted value is `value`:
/// `database.url` with its password masked, a non-empty secret as "***"
/// (quoted when `value` is), anything else as is.
std::string redact_setting(std::string_view path, std::string_view value);

} // namespace tasker::config
