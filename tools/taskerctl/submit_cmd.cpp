// `taskerctl task submit`: through the request queue and a node, or --direct.
#include "messaging/queue_client.hpp"
#include "messaging/wire.hpp"
#include "resources/store_operator.hpp"
#include "resources/store_tasks.hpp"
#include "tools/taskerctl/operator_commands.hpp"
#include "tools/taskerctl/support.hpp"

#include <chrono>
#include <cstdio>
#include <ostream>
#include <random>
#include <sstream>
#include <thread>

namespace tasker::tools::ctl {

namespace {

/// A random (version 4) UUID; the request id only has to be unique.
std::string random_uuid() {
  std::random_device rd;
  std::mt19937_64 gen{(static_cast<std::uint64_t>(rd()) << 32) ^ rd()};
  std::uint64_t hi = gen(), lo = gen();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

/// Seconds as a person writes them: "30", "0.5".
std::string seconds_text(double seconds) {
  std::ostringstream s;
  s << seconds;
  return s.str();
}

nlohmann::json parse_context(const std::string& text) {
  auto ctx = nlohmann::json::parse(text, nullptr, false);
  if (ctx.is_discarded())
    throw usage_error("--context: not valid JSON: " + text.substr(0, 80));
  if (!ctx.is_object())
    throw usage_error("--context: expected a JSON object such as {\"order_id\": 42}, got " +
                      std::string{ctx.type_name()});
  return ctx;
}

/// The request as it goes on the wire, validated by the same parser a node uses.
messaging::task_request build_request(pqxx::transaction_base& tx, const submit_options& o) {
  auto ref = parse_template_ref(o.ref);
  if (o.wait_timeout_seconds <= 0)
    throw usage_error("--wait-timeout: expected seconds > 0, got " +
                      seconds_text(o.wait_timeout_seconds));
  messaging::task_request r;
  r.request_id = random_uuid();
  r.namespace_name = ref.namespace_name;
  r.task_name = ref.name;
  r.context = parse_context(o.context_json);
  r.priority = o.priority;
  r.initiator = o.initiator;
  r.reason = o.reason;
  // The wire names a version; without one the operator means the latest.
  auto found = resources::find_template(tx, ref.namespace_name, ref.name, ref.version);
  if (!found)
    throw command_failed("template " + o.ref +
                         " is not registered (taskerctl template register FILE, then "
                         "taskerctl template list)");
  r.task_version = found->version;
  return messaging::parse_task_request(r.to_json());
}

int print_task(const ctl_context& ctx, const std::string& request_id, const std::string& task,
               bool duplicate, std::ostream& out, std::ostream& err) {
  if (ctx.json) {
    out << nlohmann::json{{"status", "created"},
                          {"request_id", request_id},
                          {"task_uuid", task},
                          {"duplicate", duplicate}}
               .dump(2)
        << '\n';
  } else {
    out << task << '\n';
    if (duplicate)
      err << "note: an identical task (same template version and context) already existed\n";
  }
  return exit_ok;
}

} // namespace

int task_submit(const ctl_context& ctx, const submit_options& o, std::ostream& out,
                std::ostream& err) {
  return run_guarded(err, [&] {
    auto conn = open_database(ctx.database_url);
    pqxx::work tx{conn};
    auto request = build_request(tx, o);

    if (o.direct) {
      resources::task_request direct;
      direct.namespace_name = request.namespace_name;
      direct.task_name = request.task_name;
      direct.task_version = request.task_version;
      direct.context = request.context;
      direct.priority = request.priority;
      direct.initiator = request.initiator;
      direct.reason = request.reason;
      direct.request_id = request.request_id;
      auto created = resources::create_task(tx, direct);
      tx.commit();
      return print_task(ctx, request.request_id, created.task_uuid, created.duplicate, out, err);
    }

    const auto& queue = ctx.queues.task_requests;
    // Idempotent; a request sent before any node started waits there for one.
    messaging::queue_client::create_queue(tx, queue);
    auto msg_id = messaging::queue_client::send(tx, queue, request.to_json());
    tx.commit();

    if (!o.wait) {
      if (ctx.json)
        out << nlohmann::json{{"status", "sent"},
                              {"request_id", request.request_id},
                              {"queue", queue},
                              {"msg_id", msg_id}}
                   .dump(2)
            << '\n';
      else
        out << request.request_id << '\n';
      return exit_ok;
    }

    using clock = std::chrono::steady_clock;
    auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                       std::chrono::duration<double>(o.wait_timeout_seconds));
    const auto wire = request.to_json();
    for (;;) {
      {
        pqxx::read_transaction poll{conn};
        if (auto found = resources::find_requested_task(poll, wire))
          return print_task(ctx, request.request_id, found->task_uuid, found->duplicate, out, err);
      }
      if (clock::now() >= deadline)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (ctx.json)
      out << nlohmann::json{{"status", "timed_out"},
                            {"request_id", request.request_id},
                            {"queue", queue},
                            {"msg_id", msg_id}}
                 .dump(2)
          << '\n';
    throw command_failed("no node processed task request " + request.request_id + " within " +
                         seconds_text(o.wait_timeout_seconds) +
                         " s: is `tasker-node run` running against this database? The request "
                         "stays on queue " +
                         queue + " (msg_id " + std::to_string(msg_id) +
                         ") and is processed when a node starts");
  });
}

} // namespace tasker::tools::ctl
