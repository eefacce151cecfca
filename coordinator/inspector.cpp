#include "coordinator/inspector.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <memory>

namespace tasker::coordinator {

using namespace tasker::messaging;

namespace {

using inspector_ptr = caf::stateful_actor<inspector_state>*;

// Asks the coordinator, then the broker; a broker that does not answer in
// time leaves `broker_answered` false instead of failing the whole query.
caf::typed_response_promise<node_inspection> inspect_node(inspector_ptr self) {
  auto& st = self->state;
  auto rp = self->make_response_promise<node_inspection>();
  auto out = std::make_shared<node_inspection>();
  out->inspector = self->id();
  out->coordinator = st.coordinator.id();
  out->broker = st.broker ? st.broker.id() : 0;
  auto timeout = st.options.timeout;
  self->request(st.coordinator, timeout, status_atom::value)
    .then(
      [=](coordinator_snapshot& snapshot) mutable {
        out->snapshot = std::move(snapshot);
        auto broker = self->state.broker;
        if (!broker) {
          rp.deliver(std::move(*out));
          return;
        }
        self->request(broker, timeout, status_atom::value)
          .then(
            [=](broker_status& now) mutable {
              out->broker_now = std::move(now);
              out->broker_answered = true;
              rp.deliver(std::move(*out));
            },
            [=](caf::error&) mutable { rp.deliver(std::move(*out)); });
      },
      [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

// Forwards an operator command to the coordinator and relays its answer.
template <class Request>
caf::typed_response_promise<pool_snapshot> forward(inspector_ptr self, const Request& req) {
  auto rp = self->make_response_promise<pool_snapshot>();
  self->request(self->state.coordinator, self->state.options.timeout, req)
    .then([=](pool_snapshot& ps) mutable { rp.deliver(std::move(ps)); },
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::typed_response_promise<coordinator_snapshot> drain(inspector_ptr self) {
  auto& st = self->state;
  // The final snapshot arrives once every pool has drained; the inspector
  // quits right after (the coordinator goes down), so nobody waits for it.
  self->request(st.coordinator, caf::infinite, shutdown_atom::value)
    .then([](const coordinator_snapshot&) {}, [](const caf::error&) {});
  // Queued behind the shutdown request: the snapshot shows the drain begun.
  auto rp = self->make_response_promise<coordinator_snapshot>();
  self->request(st.coordinator, st.options.timeout, status_atom::value)
    .then([=](coordinator_snapshot& s) mutable { rp.deliver(std::move(s)); },
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

} // namespace

caf::behavior inspector(inspector_ptr self, caf::actor coordinator, caf::actor broker,
                        inspector_options options) {
  auto& st = self->state;
  st.coordinator = std::move(coordinator);
  st.broker = std::move(broker);
  st.options = options;
  self->monitor(st.coordinator);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == self->state.coordinator.address())
      self->quit();
  });
  return {
    [=](status_atom) { return inspect_node(self); },
    [=](const pool_scale& req) { return forward(self, req); },
    [=](const pool_pause& req) { return forward(self, req); },
    [=](drain_atom) { return drain(self); },
  };
}

caf::expected<std::uint16_t> publish_inspector(caf::actor_system& sys, caf::actor coordinator,
                                               caf::actor broker,
                                               const std::string& bind_address,
                                               std::uint16_t port, inspector_options options) {
  if (!coordinator)
    return caf::make_error(caf::sec::invalid_argument, "the inspector needs a running coordinator");
  auto hdl = sys.spawn(inspector, std::move(coordinator), std::move(broker), options);
  auto bound = sys.middleman().publish(hdl, port, bind_address.c_str());
  if (!bound)
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  return bound;
}

caf::expected<caf::actor> connect_inspector(caf::actor_system& sys, const std::string& host,
                                            std::uint16_t port) {
  return sys.middleman().remote_actor(host, port);
}

} // namespace tasker::coordinator
