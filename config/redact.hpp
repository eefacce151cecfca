#pragma once
/// Database URLs carry passwords; everything that prints one goes through here.

#include <string>
#include <string_view>

namespace tasker::config {

/// `url` with any password replaced by "***": the userinfo password of a
/// postgresql:// URL, a `password=` query parameter, and the `password=`
/// key of a libpq key=value string. Text without a password is returned as is.
std::string redact_url(std::string_view url);

} // namespace tasker::config
