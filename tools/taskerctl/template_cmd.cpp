// `taskerctl template register|list|show`.
#include "messaging/identifier.hpp"
#include "messaging/queue_client.hpp"
#include "messaging/task_template.hpp"
#include "resources/store_operator.hpp"
#include "resources/store_templates.hpp"
#include "tools/taskerctl/operator_commands.hpp"
#include "tools/taskerctl/support.hpp"

#include <ostream>

namespace tasker::tools::ctl {

namespace {

std::string label(const std::string& ns, const std::string& name, const std::string& version) {
  return ns + "/" + name + "@" + version;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items)
    out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

} // namespace

int template_register(const ctl_context& ctx, const std::vector<std::filesystem::path>& files,
                      std::ostream& out, std::ostream& err) {
  return run_guarded(err, [&] {
    if (files.empty())
      throw usage_error("template register: name at least one template file");
    // Every file is checked before anything is stored, so a typo in one file
    // never leaves half of a set registered.
    std::vector<messaging::task_template> templates;
    for (const auto& file : files) {
      templates.push_back(messaging::load_template_file(file));
      messaging::validated_identifier("queue name of namespace '" +
                                          templates.back().namespace_name + "' (" + file.string() +
                                          ")",
                                      ctx.queues.namespace_queue(templates.back().namespace_name));
    }
    auto conn = open_database(ctx.database_url);
    pqxx::work tx{conn};
    auto results = nlohmann::json::array();
    for (std::size_t i = 0; i < templates.size(); ++i) {
      const auto& t = templates[i];
      auto reg = resources::register_template(tx, t);
      auto queue = ctx.queues.namespace_queue(t.namespace_name);
      messaging::queue_client::create_queue(tx, queue);
      results.push_back({{"file", files[i].string()},
                         {"namespace", t.namespace_name},
                         {"name", t.name},
                         {"version", t.version},
                         {"steps", t.steps.size()},
                         {"queue", queue},
                         {"named_task_uuid", reg.named_task_uuid},
                         {"status", reg.created ? "registered" : "unchanged"}});
    }
    tx.commit();
    if (ctx.json) {
      out << results.dump(2) << '\n';
      return exit_ok;
    }
    for (const auto& r : results)
      out << r["status"].get<std::string>() << ' ' << label(r["namespace"], r["name"], r["version"])
          << " (" << r["steps"].get<int>() << " steps, queue " << r["queue"].get<std::string>()
          << ") from " << r["file"].get<std::string>() << '\n';
    return exit_ok;
  });
}

int template_list(const ctl_context& ctx, std::ostream& out, std::ostream& err) {
  return run_guarded(err, [&] {
    auto conn = open_database(ctx.database_url);
    pqxx::read_transaction tx{conn};
    auto templates = resources::list_templates(tx);
    if (ctx.json) {
      auto doc = nlohmann::json::array();
      for (const auto& t : templates)
        doc.push_back({{"namespace", t.namespace_name},
                       {"name", t.name},
                       {"version", t.version},
                       {"description", t.description},
                       {"steps", t.step_count},
                       {"registered_at", t.created_at}});
      out << doc.dump(2) << '\n';
      return exit_ok;
    }
    if (templates.empty()) {
      out << "no templates registered (taskerctl template register FILE...)\n";
      return exit_ok;
    }
    text_table table{{"NAMESPACE", "NAME", "VERSION", "STEPS", "REGISTERED AT"}};
    for (const auto& t : templates)
      table.add({t.namespace_name, t.name, t.version, std::to_string(t.step_count),
                 short_time(t.created_at)});
    table.print(out);
    return exit_ok;
  });
}

int template_show(const ctl_context& ctx, const std::string& ref_text, std::ostream& out,
                  std::ostream& err) {
  return run_guarded(err, [&] {
    auto ref = parse_template_ref(ref_text);
    auto conn = open_database(ctx.database_url);
    pqxx::read_transaction tx{conn};
    auto found = resources::find_template(tx, ref.namespace_name, ref.name, ref.version);
    if (!found)
      throw command_failed("template " + ref_text + " is not registered" +
                           (ref.version.empty() ? "" : " (try without @VERSION for the latest)"));
    if (ctx.json) {
      out << found->document.dump(2) << '\n';
      return exit_ok;
    }
    auto t = messaging::task_template::from_json(found->document);
    out << label(t.namespace_name, t.name, t.version) << "  registered "
        << short_time(found->created_at) << '\n';
    if (!t.description.empty())
      out << t.description << '\n';
    out << "queue: " << ctx.queues.namespace_queue(t.namespace_name) << "\n\n";
    text_table table{
        {"STEP", "HANDLER", "DEPENDS ON", "RETRYABLE", "RETRY LIMIT", "BACKOFF MS", "TIMEOUT S"}};
    for (const auto& s : t.steps)
      table.add({s.name, s.handler, join(s.depends_on), s.retryable ? "yes" : "no",
                 std::to_string(s.retry_limit),
                 std::to_string(s.backoff.base_ms) + ".." + std::to_string(s.backoff.max_ms),
                 std::to_string(s.timeout_seconds)});
    table.print(out);
    return exit_ok;
  });
}

} // namespace tasker::tools::ctl
