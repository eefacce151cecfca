#include "tools/taskerctl/inspect_commands.hpp"
#include "tools/taskerctl/support.hpp"

#include <caf/all.hpp>

#include <charconv>
#include <ostream>

namespace tasker::tools::ctl {

using namespace tasker::messaging;

namespace {

template <class Request>
int send_pool_command(const node_endpoint& node, const Request& req, bool json,
                      std::ostream& out, std::ostream& err) {
  return detail::with_inspector(node, err, [&](caf::scoped_actor& self, const caf::actor& insp) {
    int code = exit_ok;
    self->request(insp, std::chrono::seconds{10}, req)
      .receive(
        [&](pool_snapshot& p) {
          if (json) {
            out << nlohmann::json{{"name", p.name},       {"target", p.target},
                                  {"executors", p.executors}, {"min", p.min},
                                  {"max", p.max},         {"manual", p.manual},
                                  {"paused", p.paused}}
                     .dump()
                << '\n';
            return;
          }
          out << "pool " << p.name << ": target " << p.target << " in [" << p.min << ", "
              << p.max << "], " << (p.manual ? "manual" : "auto-scaling")
              << (p.paused ? ", paused" : "") << '\n';
        },
        [&](caf::error& e) {
          err << "error: " << detail::describe(self->system(), e) << '\n';
          code = exit_runtime_error;
        });
    return code;
  });
}

} // namespace

int pool_scale_cmd(const node_endpoint& node, const std::string& pool, const std::string& size,
                   bool json, std::ostream& out, std::ostream& err) {
  return run_guarded(err, [&] {
    pool_scale req{pool, 0, size == "auto"};
    if (!req.automatic) {
      auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), req.size);
      if (ec != std::errc{} || end != size.data() + size.size())
        throw usage_error("pool scale " + pool + " '" + size
                          + "': expected a number of executors or 'auto'");
    }
    return send_pool_command(node, req, json, out, err);
  });
}

int pool_pause_cmd(const node_endpoint& node, const std::string& pool, bool paused, bool json,
                   std::ostream& out, std::ostream& err) {
  return run_guarded(err,
                     [&] { return send_pool_command(node, pool_pause{pool, paused}, json, out, err); });
}

} // namespace tasker::tools::ctl
