#pragma once
/// Seeded mutations of a configuration directory for the config fuzz test:
/// each takes a copy of the shipped config/ tree and breaks one file in one
/// way (wrong type, out-of-range or huge number, unknown key or section,
/// broken or truncated TOML, binary garbage, empty file, duplicate key, an
/// executor budget that does not fit), and says what a helpful error must
/// name: the file and either the key or a line.

#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace tasker::fault {

/// The configuration files of a config root, by path relative to it
/// ("tasker/queues.toml") -> their text.
using config_tree = std::map<std::string, std::string>;

/// Reads every *.toml under `root`'s tasker/, tasker/environments/<env>/ and shared/.
config_tree read_config_tree(const std::filesystem::path& root, const std::string& env);

/// Writes `tree` under `root` (created; must not exist yet).
void write_config_tree(const std::filesystem::path& root, const config_tree& tree);

/// One mutation of a tree and what its error message must contain.
struct mutation {
  std::string kind;            ///< e.g. "wrong type", "duplicate key"
  std::string file;            ///< the file changed, relative to the root
  std::string key;             ///< dotted key the message should name ("" when none is known)
  bool syntax = false;         ///< a TOML syntax error: the message names file:line instead
  bool may_stay_valid = false; ///< the change can leave a valid configuration (e.g. truncation)
  std::string description;     ///< what was done, for failure messages
};

/// Applies one random mutation to `tree` (drawn with `rng`) and describes it.
mutation mutate(config_tree& tree, std::mt19937& rng);

} // namespace tasker::fault
