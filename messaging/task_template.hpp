#pragma once
/// Task templates: a named, versioned DAG of steps, authored in TOML and
/// stored in PostgreSQL as JSON.
///
/// TOML layout (every key not marked optional is required; any other key is
/// rejected, so a typo never silently falls back to a default):
///
/// ```toml
/// namespace = "examples"       # ^[a-z][a-z0-9_]{0,47}$: becomes an SQL identifier
/// name = "linear_pipeline"     # ^[a-z][a-z0-9_]{0,47}$
/// version = "1.0.0"            # non-empty, at most 64 characters, no whitespace
/// description = "..."          # optional, default ""
///
/// [[steps]]                    # at least one
/// name = "fetch"               # ^[a-z][a-z0-9_]{0,63}$, unique within the template
/// handler = "noop"             # resolved by the worker: noop, sleep, fail, command,
///                              # http or a registered C++ handler
/// depends_on = []              # optional: names of earlier or later steps, no cycles
/// retryable = true             # optional, default true
/// retry_limit = 3              # optional, 1..100, default 3: most attempts, the first included
/// timeout_seconds = 60         # optional, > 0, default 300
/// backoff = { base_ms = 500, max_ms = 30000, jitter = 0.1 }
///                              # optional; each key optional: base_ms >= 1 (1000),
///                              # max_ms >= base_ms (60000), jitter 0..1 (0.1)
/// inputs = { any = "table" }   # optional free-form table, becomes a JSON object
/// ```
///
/// Errors name the source and the key path, with steps counted from 0:
/// `examples/templates/x.toml: steps[2].depends_on: unknown step 'transfrom'`.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tasker::messaging {

/// The longest step name accepted (^[a-z][a-z0-9_]{0,63}$).
inline constexpr std::size_t max_step_name_length = 64;

/// The largest retry_limit a step may declare.
inline constexpr std::int32_t max_retry_limit = 100;

/// Exponential backoff between attempts of a failed step.
struct backoff_policy {
  /// Delay before the first retry, in milliseconds (>= 1).
  std::int32_t base_ms = 1000;
  /// Cap on the delay, in milliseconds (>= base_ms).
  std::int32_t max_ms = 60000;
  /// Fraction of the delay randomised either way (0..1).
  double jitter = 0.1;

  /// Field-wise equality.
  friend bool operator==(const backoff_policy&, const backoff_policy&) = default;
};

/// One node of a template's DAG.
struct step_template {
  /// Unique name within the template.
  std::string name;
  /// Handler the worker runs for this step.
  std::string handler;
  /// Names of the steps that must complete first.
  std::vector<std::string> depends_on;
  /// Whether a failure may be retried at all.
  bool retryable = true;
  /// The most attempts the step gets, the first included (1..100): a failed
  /// attempt is retried while attempts < retry_limit.
  std::int32_t retry_limit = 3;
  /// Delay policy between attempts.
  backoff_policy backoff;
  /// Time a worker may spend on one attempt (> 0).
  std::int32_t timeout_seconds = 300;
  /// Static inputs handed to the handler (a JSON object).
  nlohmann::json inputs = nlohmann::json::object();

  /// Field-wise equality.
  friend bool operator==(const step_template&, const step_template&) = default;
};

/// A named, versioned DAG of steps within a namespace.
struct task_template {
  /// Namespace the template belongs to (an SQL identifier).
  std::string namespace_name;
  /// Template name (^[a-z][a-z0-9_]{0,47}$).
  std::string name;
  /// Version label; (namespace, name, version) identifies the template.
  std::string version;
  /// Free text for people.
  std::string description;
  /// Steps in declaration order.
  std::vector<step_template> steps;

  /// The JSON form stored in PostgreSQL; `from_json(to_json())` is identity.
  nlohmann::json to_json() const;

  /// Reads the JSON form, then validates it; throws template_error.
  /// Optional keys absent from the JSON take the defaults of the TOML layout;
  /// unknown keys are rejected, as in TOML, so no setting is silently lost.
  static task_template from_json(const nlohmann::json& json);

  /// Field-wise equality.
  friend bool operator==(const task_template&, const task_template&) = default;
};

/// A template that cannot be read or is invalid; names the source and key.
class template_error : public std::runtime_error {
public:
  /// Builds "<source>: <key>: <problem>" (the key part is left out when empty).
  template_error(std::string source, std::string key, const std::string& problem);

  /// Where the template came from (file name, or a label for JSON).
  const std::string& source() const noexcept { return source_; }

  /// The offending key path, such as "steps[2].depends_on"; may be empty.
  const std::string& key() const noexcept { return key_; }

private:
  std::string source_;
  std::string key_;
};

/// Parses and validates a template written in TOML; `source_name` is used in
/// every error message. Throws template_error.
task_template parse_template_toml(std::string_view toml_text, std::string_view source_name);

/// Reads, parses and validates a TOML template file. Throws template_error.
task_template load_template_file(const std::filesystem::path& path);

/// Checks every rule of the layout above; errors name the template by
/// "<namespace>/<name>@<version>". Throws template_error.
void validate_template(const task_template& tmpl);

/// As validate_template(tmpl), with `source_name` in the error messages.
void validate_template(const task_template& tmpl, std::string_view source_name);

/// Step names in an order where every step follows its dependencies; ties go
/// to declaration order, so the result is deterministic. Throws template_error
/// on an unknown dependency or a cycle.
std::vector<std::string> topological_order(const task_template& tmpl);

} // namespace tasker::messaging
