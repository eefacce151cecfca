// The JSON form of a task template, as stored in PostgreSQL (jsonb). Its keys
// are those of the TOML layout, so one description serves both.
#include "messaging/task_template.hpp"

#include <algorithm>
#include <initializer_list>
#include <limits>

namespace tasker::messaging {

namespace {

using nlohmann::json;

constexpr std::string_view json_source = "template JSON";

std::string join(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string{key} : std::string{prefix} + "." + std::string{key};
}

// Reads one JSON object strictly: unknown keys, missing required keys and
// ill-typed values all throw template_error naming the key path.
class object_reader {
public:
  object_reader(const json& object, std::string path, std::initializer_list<std::string_view> keys)
      : object_(object), path_(std::move(path)) {
    if (!object_.is_object())
      fail(path_, std::string{"expected an object, got "} + object_.type_name());
    for (const auto& item : object_.items())
      if (std::find(keys.begin(), keys.end(), item.key()) == keys.end())
        fail(join(path_, item.key()), "unknown key");
  }

  const json* find(std::string_view key, bool required) const {
    auto it = object_.find(key);
    if (it == object_.end()) {
      if (required)
        fail(join(path_, key), "required key is missing");
      return nullptr;
    }
    return &*it;
  }

  void read(std::string_view key, std::string& out, bool required) const {
    if (const auto* v = find(key, required)) {
      if (!v->is_string())
        fail(join(path_, key), std::string{"expected string, got "} + v->type_name());
      out = v->get<std::string>();
    }
  }

  void read(std::string_view key, bool& out) const {
    if (const auto* v = find(key, false)) {
      if (!v->is_boolean())
        fail(join(path_, key), std::string{"expected boolean, got "} + v->type_name());
      out = v->get<bool>();
    }
  }

  void read(std::string_view key, std::int32_t& out) const {
    if (const auto* v = find(key, false)) {
      if (!v->is_number_integer())
        fail(join(path_, key), std::string{"expected integer, got "} + v->type_name());
      bool fits = v->is_number_unsigned()
                      ? v->get<std::uint64_t>() <=
                            static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())
                      : v->get<std::int64_t>() >= std::numeric_limits<std::int32_t>::min() &&
                            v->get<std::int64_t>() <= std::numeric_limits<std::int32_t>::max();
      if (!fits)
        fail(join(path_, key), "integer " + v->dump() + " does not fit in 32 bits");
      out = v->get<std::int32_t>();
    }
  }

  void read(std::string_view key, double& out) const {
    if (const auto* v = find(key, false)) {
      if (!v->is_number())
        fail(join(path_, key), std::string{"expected number, got "} + v->type_name());
      out = v->get<double>();
    }
  }

  [[noreturn]] static void fail(const std::string& key, const std::string& problem) {
    throw template_error(std::string{json_source}, key, problem);
  }

private:
  const json& object_;
  std::string path_;
};

step_template step_from_json(const json& j, std::size_t index) {
  std::string path = "steps[" + std::to_string(index) + "]";
  object_reader r{j,
                  path,
                  {"name", "handler", "depends_on", "retryable", "retry_limit", "backoff",
                   "timeout_seconds", "inputs"}};
  step_template step;
  r.read("name", step.name, true);
  r.read("handler", step.handler, true);
  if (const auto* deps = r.find("depends_on", false)) {
    if (!deps->is_array())
      object_reader::fail(path + ".depends_on",
                          std::string{"expected array, got "} + deps->type_name());
    for (std::size_t k = 0; k < deps->size(); ++k) {
      const auto& d = (*deps)[k];
      if (!d.is_string())
        object_reader::fail(path + ".depends_on[" + std::to_string(k) + "]",
                            std::string{"expected string, got "} + d.type_name());
      step.depends_on.push_back(d.get<std::string>());
    }
  }
  r.read("retryable", step.retryable);
  r.read("retry_limit", step.retry_limit);
  r.read("timeout_seconds", step.timeout_seconds);
  if (const auto* b = r.find("backoff", false)) {
    object_reader br{*b, path + ".backoff", {"base_ms", "max_ms", "jitter"}};
    br.read("base_ms", step.backoff.base_ms);
    br.read("max_ms", step.backoff.max_ms);
    br.read("jitter", step.backoff.jitter);
  }
  if (const auto* in = r.find("inputs", false)) {
    if (!in->is_object())
      object_reader::fail(path + ".inputs", std::string{"expected object, got "} + in->type_name());
    step.inputs = *in;
  }
  return step;
}

} // namespace

nlohmann::json task_template::to_json() const {
  json out_steps = json::array();
  for (const auto& s : steps) {
    out_steps.push_back({
        {"name", s.name},
        {"handler", s.handler},
        {"depends_on", s.depends_on},
        {"retryable", s.retryable},
        {"retry_limit", s.retry_limit},
        {"backoff",
         {{"base_ms", s.backoff.base_ms},
          {"max_ms", s.backoff.max_ms},
          {"jitter", s.backoff.jitter}}},
        {"timeout_seconds", s.timeout_seconds},
        {"inputs", s.inputs},
    });
  }
  return {
      {"namespace", namespace_name},
      {"name", name},
      {"version", version},
      {"description", description},
      {"steps", std::move(out_steps)},
  };
}

task_template task_template::from_json(const nlohmann::json& j) {
  object_reader r{j, "", {"namespace", "name", "version", "description", "steps"}};
  task_template t;
  r.read("namespace", t.namespace_name, true);
  r.read("name", t.name, true);
  r.read("version", t.version, true);
  r.read("description", t.description, false);
  const auto* steps = r.find("steps", true);
  if (!steps->is_array())
    object_reader::fail("steps", std::string{"expected array, got "} + steps->type_name());
  for (std::size_t i = 0; i < steps->size(); ++i)
    t.steps.push_back(step_from_json((*steps)[i], i));
  validate_template(t, json_source);
  return t;
}

} // namespace tasker::messaging
