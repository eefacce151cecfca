#include "coordinator/coordinator_actor.hpp"
#include "coordinator/inspector.hpp"
#include "tests/actors/test_executors.hpp"

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <string>

using namespace tasker;
using namespace tasker::coordinator;
using namespace tasker::messaging;
using namespace std::chrono_literals;

namespace fs = std::filesystem;

namespace {

// A temporary directory with self-signed certificates made by the `openssl`
// command line, removed when the test ends.
struct cert_dir {
  fs::path dir;

  cert_dir() {
    std::random_device rd;
    dir = fs::temp_directory_path() / ("tasker-tls-" + std::to_string(rd()));
    fs::create_directories(dir);
  }

  ~cert_dir() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }

  // Writes <name>.pem and <name>.key (a P-256 key, encrypted when
  // `passphrase` is not empty) for the common name `name`.
  void make(const std::string& name, const std::string& passphrase = "") {
    auto key = (dir / (name + ".key")).string();
    auto cert = (dir / (name + ".pem")).string();
    auto log = (dir / (name + ".log")).string();
    std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 2"
                      " -subj /CN=" + name + " -keyout '" + key + "' -out '" + cert + "'"
                      + (passphrase.empty() ? " -nodes" : " -passout pass:" + passphrase)
                      + " >'" + log + "' 2>&1";
    int rc = std::system(cmd.c_str());
    std::ifstream in{log};
    std::string output{std::istreambuf_iterator<char>{in}, {}};
    REQUIRE_MESSAGE(rc == 0, "openssl could not make a certificate: " << cmd << '\n' << output);
  }

  std::string pem(const std::string& name) const { return (dir / (name + ".pem")).string(); }
  std::string key(const std::string& name) const { return (dir / (name + ".key")).string(); }

  // Credentials presenting `name`'s certificate and trusting `trusted`'s.
  inspector_tls creds(const std::string& name, const std::string& trusted) const {
    inspector_tls t;
    t.enabled = true;
    t.certificate = pem(name);
    t.key = key(name);
    t.cafile = pem(trusted);
    return t;
  }
};

struct tls_config : caf::actor_system_config {
  explicit tls_config(const inspector_tls& tls) {
    load<caf::io::middleman>();
    tasker::messaging::add_message_types(*this);
    configure_inspector_tls(*this, tls);
  }
};

inspector_transport transport_of(const inspector_tls& tls) {
  return tls.enabled ? inspector_transport::tls : inspector_transport::tcp;
}

// A coordinator with one probe pool (no database) and its inspector,
// published on an ephemeral loopback port over TLS or plain TCP.
struct served_node {
  tls_config cfg;
  caf::actor_system sys{cfg};
  std::shared_ptr<std::vector<caf::actor>> probes = std::make_shared<std::vector<caf::actor>>();
  caf::actor coord;
  std::uint16_t port = 0;

  explicit served_node(const inspector_tls& tls) : cfg(tls) {
    pool_spec spec;
    spec.options.name = "alpha";
    spec.options.min = 2;
    spec.options.max = 2;
    spec.options.detached = false;
    spec.factory = testing::probe_factory(probes);
    coordinator_options co;
    co.pools.push_back(std::move(spec));
    co.health_interval = 200ms;
    co.scaling_interval = 1h;
    co.shutdown_timeout = 5s;
    coord = sys.spawn(coordinator_actor, std::move(co), caf::actor{}, caf::actor{});
    auto bound = publish_inspector(sys, coord, caf::actor{}, "127.0.0.1", 0, {},
                                   transport_of(tls));
    REQUIRE_MESSAGE(bound, sys.render(bound.error()));
    port = *bound;
  }

  ~served_node() {
    caf::scoped_actor self{sys};
    self->request(coord, 20s, shutdown_atom::value)
      .receive([](coordinator_snapshot&) {}, [](caf::error&) {});
  }
};

// A separate actor system (CAF's OpenSSL manager and its credentials are per
// system) that connects to the inspector.
struct client {
  tls_config cfg;
  caf::actor_system sys{cfg};
  inspector_tls tls;

  explicit client(const inspector_tls& t) : cfg(t), tls(t) {}

  caf::expected<caf::actor> connect(std::uint16_t port, caf::timespan timeout = 3s) {
    return connect_inspector(sys, "127.0.0.1", port, transport_of(tls), timeout);
  }

  caf::expected<node_inspection> status(const caf::actor& inspector) {
    caf::expected<node_inspection> out = caf::sec::request_timeout;
    caf::scoped_actor self{sys};
    self->request(inspector, 10s, status_atom::value)
      .receive([&](node_inspection& x) { out = std::move(x); },
               [&](caf::error& err) { out = std::move(err); });
    return out;
  }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

TEST_CASE("a TLS client reads the status tree from an inspector published over TLS") {
  cert_dir certs;
  certs.make("node");
  served_node node{certs.creds("node", "node")};
  client ctl{certs.creds("node", "node")};
  auto hdl = ctl.connect(node.port);
  REQUIRE_MESSAGE(hdl, inspector_error_text(hdl.error()));
  auto tree = ctl.status(*hdl);
  for (int i = 0; i < 100 && tree && tree->snapshot.executors.size() < 2; ++i) {
    std::this_thread::sleep_for(50ms);
    tree = ctl.status(*hdl);
  }
  REQUIRE_MESSAGE(tree, ctl.sys.render(tree.error()));
  CHECK(tree->coordinator == node.coord.id());
  REQUIRE(tree->snapshot.pools.size() == 1);
  CHECK(tree->snapshot.pools[0].name == "alpha");
  CHECK(tree->snapshot.executors.size() == 2);
}

TEST_CASE("a plain client at a TLS inspector fails at once and says TLS may be on") {
  cert_dir certs;
  certs.make("node");
  served_node node{certs.creds("node", "node")};
  client plain{inspector_tls{}};
  auto start = std::chrono::steady_clock::now();
  auto hdl = plain.connect(node.port, 1s);
  REQUIRE_FALSE(hdl);
  CHECK(seconds_since(start) < 5);
  INFO(plain.sys.render(hdl.error()));
  // The node drops the connection at the first bytes that are not TLS; the
  // timeout is the bound when nothing arrives at all.
  CHECK((hdl.error() == caf::sec::disconnect_during_handshake
         || hdl.error() == caf::sec::request_timeout));
  auto text = inspector_error_text(hdl.error());
  CHECK(text.find("127.0.0.1:" + std::to_string(node.port)) != std::string::npos);
  CHECK(text.find("telemetry.inspector.tls.enabled") != std::string::npos);
}

TEST_CASE("a TLS client at a plain inspector fails instead of waiting for ever") {
  cert_dir certs;
  certs.make("node");
  served_node node{inspector_tls{}};
  client ctl{certs.creds("node", "node")};
  auto start = std::chrono::steady_clock::now();
  auto hdl = ctl.connect(node.port, 2s);
  REQUIRE_FALSE(hdl);
  CHECK(seconds_since(start) < 6);
  auto text = inspector_error_text(hdl.error());
  CHECK(text.find("127.0.0.1:" + std::to_string(node.port)) != std::string::npos);
  CHECK(text.find("TLS") != std::string::npos);
}

TEST_CASE("a TLS client that trusts another CA is refused") {
  cert_dir certs;
  certs.make("node");
  certs.make("stranger");
  served_node node{certs.creds("node", "node")};
  // Presents the node's own certificate, but does not trust it.
  client ctl{certs.creds("node", "stranger")};
  auto start = std::chrono::steady_clock::now();
  auto hdl = ctl.connect(node.port, 2s);
  REQUIRE_FALSE(hdl);
  CHECK(seconds_since(start) < 6);
  CHECK(inspector_error_text(hdl.error()).find("TLS") != std::string::npos);
  // The node did not trust the stranger's certificate either.
  client stranger{certs.creds("stranger", "node")};
  auto refused = stranger.connect(node.port, 2s);
  CHECK_FALSE(refused);
  // A trusted client still gets in afterwards.
  client trusted{certs.creds("node", "node")};
  auto ok = trusted.connect(node.port);
  REQUIRE_MESSAGE(ok, inspector_error_text(ok.error()));
  CHECK(trusted.status(*ok));
}

TEST_CASE("TLS credentials are checked up front and the error names the file at fault") {
  cert_dir certs;
  certs.make("node");
  certs.make("other");
  certs.make("locked", "open-sesame");
  CHECK_FALSE(check_inspector_tls(certs.creds("node", "node")));
  CHECK_FALSE(check_inspector_tls(inspector_tls{}));

  auto missing = certs.creds("node", "node");
  missing.certificate = (certs.dir / "absent.pem").string();
  auto err = check_inspector_tls(missing);
  REQUIRE(err);
  CHECK(inspector_error_text(err).find("absent.pem") != std::string::npos);

  auto mismatched = certs.creds("node", "node");
  mismatched.key = certs.key("other");
  err = check_inspector_tls(mismatched);
  REQUIRE(err);
  CHECK(inspector_error_text(err).find("does not belong") != std::string::npos);

  auto locked = certs.creds("locked", "locked");
  err = check_inspector_tls(locked);
  REQUIRE(err);
  CHECK(inspector_error_text(err).find("locked.key") != std::string::npos);
  locked.passphrase = "wrong";
  CHECK(check_inspector_tls(locked));
  locked.passphrase = "open-sesame";
  CHECK_FALSE(check_inspector_tls(locked));

  auto no_ca = certs.creds("node", "node");
  no_ca.cafile.clear();
  err = check_inspector_tls(no_ca);
  REQUIRE(err);
  CHECK(inspector_error_text(err).find("CA") != std::string::npos);

  // Publishing refuses bad credentials instead of failing on the first connection.
  served_node plain{inspector_tls{}};
  auto bound = publish_inspector(plain.sys, plain.coord, caf::actor{}, "127.0.0.1", 0, {},
                                 inspector_transport::tls);
  REQUIRE_FALSE(bound);
  CHECK(inspector_error_text(bound.error()).find("OpenSSL manager") != std::string::npos);
}

TEST_CASE("an inspector published over TLS serves a client with an encrypted key") {
  cert_dir certs;
  certs.make("locked", "open-sesame");
  auto creds = certs.creds("locked", "locked");
  creds.passphrase = "open-sesame";
  served_node node{creds};
  client ctl{creds};
  auto hdl = ctl.connect(node.port);
  REQUIRE_MESSAGE(hdl, inspector_error_text(hdl.error()));
  CHECK(ctl.status(*hdl));
}
