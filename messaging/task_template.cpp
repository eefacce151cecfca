#include "messaging/task_template.hpp"

#include "messaging/identifier.hpp"

#include <algorithm>
#include <functional>
#include <queue>
#include <unordered_map>

namespace tasker::messaging {

namespace {

std::string step_key(std::size_t index, std::string_view field) {
  std::string key = "steps[" + std::to_string(index) + "]";
  if (!field.empty())
    key += "." + std::string{field};
  return key;
}

std::string shown(std::string_view value) {
  constexpr std::size_t limit = 64;
  std::string out{value.substr(0, limit)};
  if (value.size() > limit)
    out += "...";
  return "'" + out + "'";
}

std::string label_of(const task_template& tmpl) {
  return tmpl.namespace_name + "/" + tmpl.name + "@" + tmpl.version;
}

bool is_valid_step_name(std::string_view name) {
  if (name.empty() || name.size() > max_step_name_length)
    return false;
  if (name[0] < 'a' || name[0] > 'z')
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// A label a person types (version, handler): visible characters only, since a
// stray space or newline would make two labels look equal.
bool is_plain_label(std::string_view text, std::size_t max_length) {
  if (text.empty() || text.size() > max_length)
    return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f;
  });
}

// Parent indices per step; rejects duplicate names, unknown and self
// dependencies, which would make the graph itself ill-defined.
std::vector<std::vector<std::size_t>> dependency_graph(const task_template& tmpl,
                                                       const std::string& source) {
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < tmpl.steps.size(); ++i) {
    auto [it, fresh] = index.emplace(tmpl.steps[i].name, i);
    if (!fresh)
      throw template_error(source, step_key(i, "name"),
                           "duplicate step name " + shown(tmpl.steps[i].name) +
                               " (first declared as " + step_key(it->second, "") + ")");
  }
  std::vector<std::vector<std::size_t>> parents(tmpl.steps.size());
  for (std::size_t i = 0; i < tmpl.steps.size(); ++i) {
    const auto& step = tmpl.steps[i];
    for (const auto& dep : step.depends_on) {
      if (dep == step.name)
        throw template_error(source, step_key(i, "depends_on"),
                             "step " + shown(step.name) + " depends on itself");
      auto it = index.find(dep);
      if (it == index.end())
        throw template_error(source, step_key(i, "depends_on"), "unknown step " + shown(dep));
      if (std::find(parents[i].begin(), parents[i].end(), it->second) != parents[i].end())
        throw template_error(source, step_key(i, "depends_on"),
                             "step " + shown(dep) + " is listed twice");
      parents[i].push_back(it->second);
    }
  }
  return parents;
}

// Finds one cycle by depth-first search in declaration order, so the same
// template always reports the same cycle. Empty when the graph is acyclic.
std::vector<std::size_t> find_cycle(const std::vector<std::vector<std::size_t>>& parents) {
  enum class mark { unvisited, on_path, done };
  std::vector<mark> marks(parents.size(), mark::unvisited);
  std::vector<std::size_t> path;
  std::vector<std::size_t> cycle;
  std::function<bool(std::size_t)> visit = [&](std::size_t node) {
    marks[node] = mark::on_path;
    path.push_back(node);
    for (auto parent : parents[node]) {
      if (marks[parent] == mark::on_path) {
        auto start = std::find(path.begin(), path.end(), parent);
        cycle.assign(start, path.end());
        return true;
      }
      if (marks[parent] == mark::unvisited && visit(parent))
        return true;
    }
    path.pop_back();
    marks[node] = mark::done;
    return false;
  };
  for (std::size_t i = 0; i < parents.size(); ++i)
    if (marks[i] == mark::unvisited && visit(i))
      return cycle;
  return {};
}

[[noreturn]] void throw_cycle(const task_template& tmpl, const std::string& source,
                              const std::vector<std::size_t>& cycle) {
  std::string names;
  for (auto i : cycle)
    names += tmpl.steps[i].name + " -> ";
  names += tmpl.steps[cycle.front()].name;
  throw template_error(source, step_key(cycle.front(), "depends_on"),
                       "dependency cycle: " + names + " (each step depends on the next)");
}

void validate_header(const task_template& tmpl, const std::string& source) {
  if (!is_valid_identifier(tmpl.namespace_name))
    throw template_error(source, "namespace",
                         "invalid namespace " + shown(tmpl.namespace_name) +
                             ": must match ^[a-z][a-z0-9_]{0,47}$ (it becomes an SQL "
                             "identifier)");
  if (!is_valid_identifier(tmpl.name))
    throw template_error(source, "name",
                         "invalid template name " + shown(tmpl.name) +
                             ": must match ^[a-z][a-z0-9_]{0,47}$");
  if (!is_plain_label(tmpl.version, 64))
    throw template_error(source, "version",
                         "invalid version " + shown(tmpl.version) +
                             ": must be 1 to 64 characters without whitespace");
  if (tmpl.steps.empty())
    throw template_error(source, "steps", "at least one step is required");
}

void validate_step(const step_template& step, std::size_t i, const std::string& source) {
  if (!is_valid_step_name(step.name))
    throw template_error(source, step_key(i, "name"),
                         "invalid step name " + shown(step.name) +
                             ": must match ^[a-z][a-z0-9_]{0,63}$");
  if (!is_plain_label(step.handler, 128))
    throw template_error(source, step_key(i, "handler"),
                         "invalid handler " + shown(step.handler) +
                             ": must be 1 to 128 characters without whitespace");
  if (step.retry_limit < 1 || step.retry_limit > max_retry_limit)
    throw template_error(source, step_key(i, "retry_limit"),
                         "must be in 1.." + std::to_string(max_retry_limit) + ", got " +
                             std::to_string(step.retry_limit));
  if (step.timeout_seconds <= 0)
    throw template_error(source, step_key(i, "timeout_seconds"),
                         "must be greater than 0, got " + std::to_string(step.timeout_seconds));
  if (step.backoff.base_ms < 1)
    throw template_error(source, step_key(i, "backoff.base_ms"),
                         "must be at least 1, got " + std::to_string(step.backoff.base_ms));
  if (step.backoff.max_ms < step.backoff.base_ms)
    throw template_error(source, step_key(i, "backoff.max_ms"),
                         "must be at least base_ms (" + std::to_string(step.backoff.base_ms) +
                             "), got " + std::to_string(step.backoff.max_ms));
  // Written as a negated range so NaN fails too.
  if (!(step.backoff.jitter >= 0.0 && step.backoff.jitter <= 1.0))
    throw template_error(source, step_key(i, "backoff.jitter"),
                         "must be in 0..1, got " + std::to_string(step.backoff.jitter));
  if (!step.inputs.is_object())
    throw template_error(source, step_key(i, "inputs"),
                         std::string{"must be an object, got "} + step.inputs.type_name());
}

} // namespace

template_error::template_error(std::string source, std::string key, const std::string& problem)
    : std::runtime_error(source + ": " + (key.empty() ? "" : key + ": ") + problem),
      source_(std::move(source)), key_(std::move(key)) {}

void validate_template(const task_template& tmpl) {
  validate_template(tmpl, label_of(tmpl));
}

void validate_template(const task_template& tmpl, std::string_view source_name) {
  std::string source{source_name};
  validate_header(tmpl, source);
  for (std::size_t i = 0; i < tmpl.steps.size(); ++i)
    validate_step(tmpl.steps[i], i, source);
  auto parents = dependency_graph(tmpl, source);
  if (auto cycle = find_cycle(parents); !cycle.empty())
    throw_cycle(tmpl, source, cycle);
}

std::vector<std::string> topological_order(const task_template& tmpl) {
  auto source = label_of(tmpl);
  auto parents = dependency_graph(tmpl, source);
  std::vector<std::vector<std::size_t>> children(parents.size());
  std::vector<std::size_t> waiting(parents.size());
  for (std::size_t i = 0; i < parents.size(); ++i) {
    waiting[i] = parents[i].size();
    for (auto p : parents[i])
      children[p].push_back(i);
  }
  // Kahn's algorithm with a min-heap on the declaration index: among the
  // steps that are ready, the one declared first goes next.
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
  for (std::size_t i = 0; i < waiting.size(); ++i)
    if (waiting[i] == 0)
      ready.push(i);
  std::vector<std::string> order;
  order.reserve(parents.size());
  while (!ready.empty()) {
    auto next = ready.top();
    ready.pop();
    order.push_back(tmpl.steps[next].name);
    for (auto child : children[next])
      if (--waiting[child] == 0)
        ready.push(child);
  }
  if (order.size() != parents.size())
    throw_cycle(tmpl, source, find_cycle(parents));
  return order;
}

} // namespace tasker::messaging
