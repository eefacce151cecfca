#pragma once
/// Layered TOML with provenance: each layer (a file, a variable, a flag) is
/// merged over the previous ones and every key remembers which layer set it
/// last, so errors and `config show` can name the file or variable.

#include "config/schema.hpp"
#include "config/tasker_config.hpp"

#include <toml++/toml.h>

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tasker::config {

/// Key path -> the file or variable that set it last.
using provenance = std::map<std::string, std::string, std::less<>>;

/// The merged TOML of every layer so far, with the source of each key.
struct layered_table {
  toml::table table;  ///< the merged document
  provenance sources; ///< tables and leaves alike
};

/// Deep-merges `over` into `into` (tables merge, everything else replaces)
/// and records `source` for every key `over` sets.
void merge_layer(layered_table& into, const toml::table& over, const std::string& source);

/// Sets the leaf `f` from text (a variable's or a flag's value), converted to
/// the field's type. Returns an error naming `source` when the text does not
/// parse as that type; nothing otherwise.
std::optional<std::string> set_from_text(layered_table& into, const field& f, std::string_view text,
                                         const std::string& source);

/// The source recorded for `path` or, failing that, for its nearest parent.
std::string source_of(const provenance& sources, std::string_view path);

/// Decodes the merged table into `out` (keys absent keep the value `out`
/// already has). Every unknown key, wrong type, out-of-range value and
/// key rejected by `allowed` adds one error naming its file and key.
std::vector<std::string> decode(const layered_table& layers, tasker_config& out,
                                const std::function<bool(std::string_view)>& allowed);

/// The value of leaf `f` in `config` as TOML text (strings quoted).
std::string format_value(const tasker_config& config, const field& f);

/// The configuration as a TOML document holding every set leaf that `keep`
/// accepts (optional overrides that are unset are left out).
toml::table to_toml(const tasker_config& config, const std::function<bool(std::string_view)>& keep);

} // namespace tasker::config
