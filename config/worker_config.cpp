#include "config/worker_config.hpp"

#include "config/validate.hpp"

#include <array>
#include <fstream>

namespace tasker::config {

namespace fs = std::filesystem;

namespace {

constexpr std::array<std::string_view, 3> worker_prefixes{"database", "queues",
                                                          "circuit_breakers.defaults"};

bool has_prefix(std::string_view path, std::string_view prefix) {
  return path.size() >= prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
         (path.size() == prefix.size() || path[prefix.size()] == '.');
}

void write_file(const fs::path& file, const std::string& header, const toml::table& table) {
  std::ofstream out{file};
  out << "# " << header << "\n\n" << toml::toml_formatter{table} << '\n';
  if (!out)
    throw std::runtime_error("cannot write " + file.string());
}

} // namespace

bool is_worker_key(std::string_view path) {
  if (path == "database.pool.reserved_connections")
    return false;
  for (auto prefix : worker_prefixes)
    if (has_prefix(path, prefix) || has_prefix(prefix, path))
      return true;
  return false;
}

worker_config worker_subset(const tasker_config& config) {
  worker_config out;
  out.database = config.database;
  out.database.pool.reserved_connections = db_pool_config{}.reserved_connections;
  out.queues = config.queues;
  out.circuit_breaker = config.circuit_breakers.defaults;
  return out;
}

std::vector<fs::path> export_worker_config(const loaded_config& node, const fs::path& out_dir) {
  fs::create_directories(out_dir);
  const std::string origin = "Worker configuration exported from " + node.config_dir.string() +
                             " (environment " + node.environment + ").";
  struct part {
    const char* file;
    std::string_view prefix;
    const char* what;
  };
  const std::array<part, 4> parts{{
      {"database.toml", "database", "Database pool; the URL comes from TASKER_DATABASE_URL."},
      {"queues.toml", "queues", "Queue behaviour."},
      {"queue_names.toml", "queues.names", "Queue names shared with the orchestration node."},
      {"circuit_breakers.toml", "circuit_breakers.defaults", "Circuit breaker defaults."},
  }};
  std::vector<fs::path> written;
  for (const auto& p : parts) {
    auto table = to_toml(node.config, [&](std::string_view path) {
      if (!is_worker_key(path) || !has_prefix(path, p.prefix) || path == "database.url")
        return false;
      // queues.toml holds the settings; the names go to their own shared file.
      return !(p.prefix == "queues" && has_prefix(path, "queues.names"));
    });
    auto file = out_dir / p.file;
    write_file(file, origin + "\n# " + p.what, table);
    written.push_back(file);
  }
  return written;
}

worker_config load_worker_config(const fs::path& dir, const env_map& variables) {
  std::vector<std::string> errors;
  layered_table layers;
  auto files = toml_files_in(dir);
  if (files.empty())
    throw config_error({"no worker configuration in " + dir.string() + ": expected *.toml files"});
  for (const auto& file : files)
    merge_layer(layers, read_toml_file(file, errors), file.string());
  if (auto url = variables.find("TASKER_DATABASE_URL"); url != variables.end())
    if (auto err = set_from_text(layers, *find_field("database.url"), url->second, url->first))
      errors.push_back(*err);
  for (const auto& [name, value] : variables) {
    auto path = path_from_env_name(name);
    const field* f = path ? find_field(*path) : nullptr;
    // A node's variables may share the worker's environment; only worker keys apply.
    if (f != nullptr && is_worker_key(f->path))
      if (auto err = set_from_text(layers, *f, value, name))
        errors.push_back(*err);
  }
  tasker_config full;
  auto decode_errors = decode(layers, full, is_worker_key);
  errors.insert(errors.end(), decode_errors.begin(), decode_errors.end());
  for (auto&& more : {validate_database(full.database, layers.sources),
                      validate_queues(full.queues, layers.sources)})
    errors.insert(errors.end(), more.begin(), more.end());
  if (!errors.empty())
    throw config_error(std::move(errors));
  return worker_subset(full);
}

} // namespace tasker::config
