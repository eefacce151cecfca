#include "tools/taskerctl/inspect_commands.hpp"
#include "tools/taskerctl/support.hpp"

#include <caf/all.hpp>

#include <ostream>

namespace tasker::tools::ctl {

using namespace tasker::messaging;

int node_drain_cmd(const node_endpoint& node, double timeout_seconds, bool json,
                   std::ostream& out, std::ostream& err) {
  return detail::with_inspector(node, err, [&](caf::scoped_actor& self, const caf::actor& insp) {
    // Watched first: the inspector quits once the coordinator has drained.
    self->monitor(insp);
    int code = exit_ok;
    self->request(insp, std::chrono::seconds{10}, drain_atom::value)
      .receive(
        [&](coordinator_snapshot& s) {
          if (!json)
            out << "draining " << s.executors.size() << " executor(s) in " << s.pools.size()
                << " pool(s)\n";
        },
        [&](caf::error& e) {
          err << "error: " << detail::describe(self->system(), e) << '\n';
          code = exit_runtime_error;
        });
    if (code != exit_ok)
      return code;
    bool done = timeout_seconds <= 0;
    if (!done)
      self->receive([&](caf::down_msg&) { done = true; },
                    caf::after(std::chrono::duration_cast<caf::timespan>(
                      std::chrono::duration<double>{timeout_seconds}))
                      >> [] {});
    if (json)
      out << nlohmann::json{{"draining", true}, {"finished", done && timeout_seconds > 0}}.dump()
          << '\n';
    else if (timeout_seconds > 0)
      out << (done ? "node drained\n" : "node still draining after the timeout\n");
    return done ? exit_ok : exit_runtime_error;
  });
}

} // namespace tasker::tools::ctl
