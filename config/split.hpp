#pragma once
/// Converts the deprecated single-file configuration into the component layout.

#include <filesystem>
#include <vector>

namespace tasker::config {

/// Writes the sections of `legacy_file` (a tasker-config.toml) as component
/// files under `out_dir`: tasker/<section>.toml, shared/queue_names.toml, and
/// tasker/environments/<env>/<section>.toml for each `[environments.<env>]`.
/// The result loads to the same values as the legacy file. Throws config_error
/// for syntax errors, unknown sections, or when `out_dir` already holds
/// component files. Returns the files written.
std::vector<std::filesystem::path> split_legacy(const std::filesystem::path& legacy_file,
                                                const std::filesystem::path& out_dir);

} // namespace tasker::config
