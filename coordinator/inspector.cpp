#include "coordinator/inspector.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>

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

// -- TLS ----------------------------------------------------------------------

caf::error tls_failure(std::string sentence) {
  return caf::make_error(caf::sec::invalid_argument, std::move(sentence));
}

// OpenSSL's queued reasons for the last failure, oldest first.
std::string openssl_reason() {
  std::string out;
  while (auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    out += out.empty() ? "" : "; ";
    out += buf;
  }
  return out.empty() ? std::string{"no reason given"} : out;
}

// Hands OpenSSL the passphrase; an empty one makes an encrypted key fail
// instead of OpenSSL prompting on the terminal.
int passphrase_callback(char* buf, int size, int, void* user) {
  const auto& pass = *static_cast<const std::string*>(user);
  if (size <= 0)
    return 0;
  auto n = std::min(pass.size(), static_cast<std::size_t>(size - 1));
  std::memcpy(buf, pass.data(), n);
  buf[n] = '\0';
  return static_cast<int>(n);
}

// The credentials CAF's OpenSSL manager uses for every connection of `sys`.
inspector_tls tls_of(const caf::actor_system_config& cfg) {
  return {true,          cfg.openssl_certificate, cfg.openssl_key, cfg.openssl_passphrase,
          cfg.openssl_cafile, cfg.openssl_capath};
}

// Refuses TLS on a system without the OpenSSL manager or with credentials
// that would make CAF fail (or throw) once a connection arrives.
caf::error check_tls_system(caf::actor_system& sys) {
  if (!sys.has_openssl_manager())
    return tls_failure("the inspector's TLS needs CAF's OpenSSL manager in the actor system "
                       "(configure_inspector_tls before building it)");
  return check_inspector_tls(tls_of(sys.config()));
}

} // namespace

void configure_inspector_tls(caf::actor_system_config& cfg, const inspector_tls& tls) {
  if (!tls.enabled)
    return;
  cfg.load<caf::openssl::manager>();
  cfg.openssl_certificate = tls.certificate;
  cfg.openssl_key = tls.key;
  cfg.openssl_passphrase = tls.passphrase;
  cfg.openssl_cafile = tls.cafile;
  cfg.openssl_capath = tls.capath;
}

caf::error check_inspector_tls(const inspector_tls& tls) {
  if (!tls.enabled)
    return {};
  if (tls.certificate.empty() || tls.key.empty())
    return tls_failure("TLS needs a certificate and its private key: both ends of an "
                       "inspector connection present one");
  if (tls.cafile.empty() && tls.capath.empty())
    return tls_failure("TLS needs a CA file or CA directory to verify the peer's certificate");
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{SSL_CTX_new(TLS_method()),
                                                        &SSL_CTX_free};
  if (!ctx)
    return tls_failure("cannot create an OpenSSL context: " + openssl_reason());
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.certificate.c_str()) != 1)
    return tls_failure("cannot load the certificate " + tls.certificate
                       + " (a PEM certificate is expected): " + openssl_reason());
  std::string pass = tls.passphrase;
  // The key alone first: loaded next to the certificate, a key that does not
  // match it fails the same call as one that cannot be read.
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> key_only{SSL_CTX_new(TLS_method()),
                                                             &SSL_CTX_free};
  if (!key_only)
    return tls_failure("cannot create an OpenSSL context: " + openssl_reason());
  for (auto* c : {key_only.get(), ctx.get()}) {
    SSL_CTX_set_default_passwd_cb(c, passphrase_callback);
    SSL_CTX_set_default_passwd_cb_userdata(c, &pass);
  }
  if (SSL_CTX_use_PrivateKey_file(key_only.get(), tls.key.c_str(), SSL_FILETYPE_PEM) != 1)
    return tls_failure("cannot load the private key " + tls.key
                       + (pass.empty() ? " (if it is encrypted, set its passphrase)"
                                       : " with the configured passphrase")
                       + ": " + openssl_reason());
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key.c_str(), SSL_FILETYPE_PEM) != 1
      || SSL_CTX_check_private_key(ctx.get()) != 1)
    return tls_failure("the private key " + tls.key + " does not belong to the certificate "
                       + tls.certificate + ": " + openssl_reason());
  auto cafile = tls.cafile.empty() ? nullptr : tls.cafile.c_str();
  auto capath = tls.capath.empty() ? nullptr : tls.capath.c_str();
  if (SSL_CTX_load_verify_locations(ctx.get(), cafile, capath) != 1)
    return tls_failure("cannot load the trusted CAs from "
                       + (cafile ? tls.cafile : std::string{}) + (cafile && capath ? " and " : "")
                       + (capath ? tls.capath : std::string{}) + ": " + openssl_reason());
  return {};
}

std::string inspector_error_text(const caf::error& err) {
  const auto& ctx = err.context();
  return ctx.match_elements<std::string>() ? ctx.get_as<std::string>(0) : std::string{};
}

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
                                               std::uint16_t port, inspector_options options,
                                               inspector_transport transport) {
  if (!coordinator)
    return caf::make_error(caf::sec::invalid_argument, "the inspector needs a running coordinator");
  bool tls = transport == inspector_transport::tls;
  if (tls)
    if (auto err = check_tls_system(sys))
      return err;
  auto hdl = sys.spawn(inspector, std::move(coordinator), std::move(broker), options);
  auto bound = tls ? caf::openssl::publish(hdl, port, bind_address.c_str())
                   : sys.middleman().publish(hdl, port, bind_address.c_str());
  if (!bound)
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  return bound;
}

caf::expected<caf::actor> connect_inspector(caf::actor_system& sys, const std::string& host,
                                            std::uint16_t port, inspector_transport transport,
                                            caf::timespan connect_timeout) {
  bool tls = transport == inspector_transport::tls;
  auto where = host + ":" + std::to_string(port);
  caf::io::middleman_actor mm;
  if (tls) {
    if (auto err = check_tls_system(sys))
      return tls_failure("cannot use TLS for the inspector at " + where + ": "
                         + inspector_error_text(err));
    mm = sys.openssl_manager().actor_handle();
  } else {
    mm = sys.middleman().actor_handle();
  }
  auto wait = std::to_string(
    std::chrono::duration_cast<std::chrono::duration<double>>(connect_timeout).count());
  wait.erase(wait.find_last_not_of('0') + 1);
  if (!wait.empty() && wait.back() == '.')
    wait.pop_back();
  caf::expected<caf::actor> out = caf::sec::request_timeout;
  // Not caf::io::remote_actor: it waits for the handshake without a bound,
  // and a TLS client at a plain port (or the reverse) never gets one.
  caf::scoped_actor self{sys};
  self->request(mm, connect_timeout, caf::connect_atom::value, host, port)
    .receive(
      [&](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>& ifs) {
        if (!ptr)
          out = caf::make_error(caf::sec::no_actor_published_at_port,
                                "nothing is published at " + where);
        else if (!sys.assignable(ifs, sys.message_types(caf::detail::type_list<caf::actor>{})))
          out = caf::make_error(caf::sec::unexpected_actor_messaging_interface,
                                "the actor published at " + where + " is not an inspector");
        else
          out = caf::actor_cast<caf::actor>(std::move(ptr));
      },
      [&](caf::error& err) {
        if (tls) {
          // The code a failed TLS connection brings depends on timing: when
          // the peer's first bytes (a plain node's own handshake) are already
          // there for CAF's first SSL_connect, the session is never created
          // and CAF reports cannot_connect_to_node, as for a refused TCP
          // connection; when they come later, disconnect_during_handshake.
          // Every failure therefore gets a sentence that names TLS and the
          // endpoint, whatever the code.
          if (err == caf::sec::request_timeout)
            out = caf::make_error(
              caf::sec::request_timeout,
              "no TLS handshake from the inspector at " + where + " within " + wait
                + " s: the node may serve it without TLS (telemetry.inspector.tls.enabled "
                  "is false there)");
          else
            out = caf::make_error(
              err == caf::sec::disconnect_during_handshake
                ? caf::sec::disconnect_during_handshake
                : caf::sec::cannot_connect_to_node,
              "the TLS connection to the inspector at " + where + " failed (" + sys.render(err)
                + "): the node must be running, serve the inspector over TLS, present a "
                  "certificate signed by a CA in this end's CA file or directory, and trust "
                  "this end's certificate");
        } else if (err == caf::sec::request_timeout) {
          out = caf::make_error(caf::sec::request_timeout,
                                "no handshake from the inspector at " + where + " within "
                                  + wait
                                  + " s: the node may serve it over TLS "
                                    "(telemetry.inspector.tls.enabled), which needs a TLS "
                                    "client");
        } else if (err == caf::sec::disconnect_during_handshake) {
          out = caf::make_error(
            caf::sec::disconnect_during_handshake,
            "the inspector at " + where + " closed the connection during the handshake: the "
            "node may serve it over TLS (telemetry.inspector.tls.enabled), which needs a TLS "
            "client");
        } else {
          out = caf::make_error(caf::sec::cannot_connect_to_node,
                                "cannot connect to the inspector at " + where + " ("
                                  + sys.render(err) + ")");
        }
      });
  return out;
}

} // namespace tasker::coordinator
