#include "config/commands.hpp"

#include "config/redact.hpp"
#include "config/schema.hpp"
#include "config/split.hpp"
#include "config/worker_config.hpp"
#include "resources/budget.hpp"
#include "resources/detection.hpp"

#include <iomanip>
#include <ostream>

namespace tasker::config {

namespace {

void print_errors(const std::vector<std::string>& errors, std::ostream& err) {
  err << "configuration invalid (" << errors.size() << (errors.size() == 1 ? " error" : " errors")
      << "):\n";
  for (const auto& e : errors)
    err << "  " << e << '\n';
}

void print_warnings(const std::vector<std::string>& warnings, std::ostream& err) {
  for (const auto& w : warnings)
    err << "warning: " << w << '\n';
}

/// Runs `body`, turning a config_error into the listing and exit code 2.
template <class Body>
int guarded(std::ostream& err, Body&& body) {
  try {
    return body();
  } catch (const config_error& e) {
    print_errors(e.errors(), err);
    return exit_invalid_config;
  }
}

} // namespace

int config_check(const load_options& options, bool probe_database, std::ostream& out,
                 std::ostream& err) {
  return guarded(err, [&] {
    auto loaded = load_config(options);
    print_warnings(loaded.warnings, err);
    const auto& cfg = loaded.config;
    std::vector<std::string> errors;
    auto detected = resources::detect_local(cfg.database);
    if (probe_database && !cfg.database.url.empty()) {
      try {
        pqxx::connection conn{cfg.database.url};
        detected.server = resources::detect_server_limits(conn);
      } catch (const std::exception& e) {
        errors.push_back("cannot reach the database at " + redact_url(cfg.database.url) + " (" +
                         source_of(loaded.sources, "database.url") + "): " + e.what());
      }
    }
    auto budget = resources::calculate_budget(cfg, &detected);
    print_warnings(budget.warnings, err);
    errors.insert(errors.end(), budget.errors.begin(), budget.errors.end());
    if (!errors.empty()) {
      print_errors(errors, err);
      return exit_invalid_config;
    }
    out << "configuration ok: " << loaded.config_dir.string() << " (environment "
        << loaded.environment << (loaded.legacy ? ", legacy single file" : "") << ", "
        << loaded.files.size() << " files)\n"
        << "  executors: " << budget.budget->requested_executors << " of "
        << budget.budget->total_executor_limit << " allowed (pool " << budget.budget->pool_size
        << ", reserved " << budget.budget->reserved_connections << ")\n";
    if (detected.server)
      out << "  server: max_connections " << detected.server->max_connections << ", "
          << detected.server->available() << " available\n";
    out << "  machine: " << detected.cpu_cores << " cores";
    if (detected.available_memory_mb)
      out << ", " << *detected.available_memory_mb << " MB available";
    out << '\n';
    return 0;
  });
}

int config_show(const load_options& options, std::ostream& out, std::ostream& err) {
  return guarded(err, [&] {
    auto loaded = load_config(options);
    print_warnings(loaded.warnings, err);
    out << "# configuration root " << loaded.config_dir.string() << ", environment "
        << loaded.environment << '\n';
    std::size_t width = 0;
    std::vector<std::pair<std::string, std::string>> lines;
    tasker_config copy = loaded.config;
    for (const auto& f : fields()) {
      auto ref = f.ref(copy);
      if (auto* opt = std::get_if<std::optional<int>*>(&ref); opt && !(*opt)->has_value())
        continue; // an override that is not set has nothing to show
      auto value = format_value(loaded.config, f);
      if (f.path == "database.url")
        value = "\"" + redact_url(loaded.config.database.url) + "\"";
      else
        value = redact_setting(f.path, value);
      lines.emplace_back(f.path + " = " + value, source_of(loaded.sources, f.path));
      width = std::max(width, lines.back().first.size());
    }
    for (const auto& [text, source] : lines)
      out << std::left << std::setw(static_cast<int>(width)) << text << "  # " << source << '\n';
    return 0;
  });
}

int config_split(const std::filesystem::path& legacy_file, const std::filesystem::path& out_dir,
                 std::ostream& out, std::ostream& err) {
  return guarded(err, [&] {
    auto files = split_legacy(legacy_file, out_dir);
    for (const auto& f : files)
      out << "wrote " << f.string() << '\n';
    out << "load it with --config-dir " << out_dir.string() << '\n';
    return 0;
  });
}

int config_export_worker(const load_options& options, const std::filesystem::path& out_dir,
                         std::ostream& out, std::ostream& err) {
  return guarded(err, [&] {
    auto loaded = load_config(options);
    print_warnings(loaded.warnings, err);
    for (const auto& f : export_worker_config(loaded, out_dir))
      out << "wrote " << f.string() << '\n';
    return 0;
  });
}

} // namespace tasker::config
