#include "coordinator/coordinator_actor.hpp"
#include "coordinator/inspector.hpp"
#include "resources/store_nodes.hpp"
#include "tests/actors/test_executors.hpp"
#include "tests/support/scratch_db.hpp"
#include "tools/taskerctl/inspect_commands.hpp"
#include "tools/taskerctl/support.hpp"

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace tasker;
using namespace tasker::tools::ctl;
using namespace std::chrono_literals;

namespace {

struct node_config : caf::actor_system_config {
  explicit node_config(const coordinator::inspector_tls& tls) {
    load<caf::io::middleman>();
    tasker::messaging::add_message_types(*this);
    coordinator::configure_inspector_tls(*this, tls);
  }
};

// A self-signed certificate and key made with the `openssl` command line in
// a temporary directory, removed at the end.
struct self_signed {
  std::filesystem::path dir =
    std::filesystem::temp_directory_path() / ("tasker-ctl-tls-" + std::to_string(getpid()));
  coordinator::inspector_tls tls;

  self_signed() {
    std::filesystem::create_directories(dir);
    tls.enabled = true;
    tls.certificate = (dir / "node.pem").string();
    tls.key = (dir / "node.key").string();
    tls.cafile = tls.certificate;
    auto cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 2 -nodes"
               " -subj /CN=tasker-ctl-test -keyout '" + tls.key + "' -out '" + tls.certificate
               + "' >/dev/null 2>&1";
    REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "openssl could not make a certificate: " << cmd);
  }

  ~self_signed() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

// A coordinator with one probe pool (no database) whose inspector is
// published on an ephemeral loopback port, for the commands to reach.
struct published_node {
  node_config cfg;
  caf::actor_system sys{cfg};
  std::shared_ptr<std::vector<caf::actor>> probes = std::make_shared<std::vector<caf::actor>>();
  caf::actor coord;
  node_endpoint endpoint;

  explicit published_node(const coordinator::inspector_tls& tls = {}) : cfg(tls) {
    coordinator::pool_spec spec;
    spec.options.name = "alpha";
    spec.options.min = 1;
    spec.options.max = 2;
    spec.options.detached = false;
    spec.factory = testing::probe_factory(probes);
    coordinator::coordinator_options co;
    co.pools.push_back(std::move(spec));
    co.health_interval = 100ms;
    co.scaling_interval = 1h;
    co.shutdown_timeout = 5s;
    coord = sys.spawn(coordinator::coordinator_actor, std::move(co), caf::actor{}, caf::actor{});
    auto port = coordinator::publish_inspector(
      sys, coord, caf::actor{}, "127.0.0.1", 0, {},
      tls.enabled ? coordinator::inspector_transport::tls : coordinator::inspector_transport::tcp);
    REQUIRE_MESSAGE(port, sys.render(port.error()));
    endpoint.port = *port;
  }

  ~published_node() {
    caf::scoped_actor self{sys};
    self->request(coord, 20s, messaging::shutdown_atom::value)
      .receive([](messaging::coordinator_snapshot&) {}, [](caf::error&) {});
  }
};

// Every JSON document in `text` (one per `inspect --json` print).
std::vector<nlohmann::json> json_documents(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in{text};
  std::string doc, line;
  while (std::getline(in, line)) {
    doc += line + "\n";
    if (line == "}") {
      out.push_back(nlohmann::json::parse(doc));
      doc.clear();
    }
  }
  CHECK(doc.empty());
  return out;
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1))
    ++n;
  return n;
}

resources::node_registration node(std::string id, std::string inspector) {
  resources::node_registration n;
  n.node_id = std::move(id);
  n.hostname = "box-" + n.node_id;
  n.pid = 77;
  n.inspector_address = std::move(inspector);
  n.http_address = "127.0.0.1:8080";
  n.pools = nlohmann::json::array({{{"name", "task_claimer"}, {"min", 1}, {"max", 3}}});
  return n;
}

} // namespace

TEST_CASE("taskerctl cluster lists the live nodes with their pools and addresses") {
  testing::scratch_db db;
  {
    auto conn = db.connect();
    pqxx::work tx{conn};
    resources::register_node(tx, node("node-a", "127.0.0.1:4242"));
    resources::register_node(tx, node("node-b", "127.0.0.1:4343"));
    resources::register_node(tx, node("node-c", ""));
    resources::mark_node_stopped(tx, "node-c");
    tx.commit();
  }
  std::ostringstream out, err;
  REQUIRE(cluster_cmd(db.url(), false, false, out, err) == exit_ok);
  auto text = out.str();
  CHECK(text.find("node-a") != std::string::npos);
  CHECK(text.find("node-b") != std::string::npos);
  CHECK(text.find("127.0.0.1:4343") != std::string::npos);
  CHECK(text.find("task_claimer[1..3]") != std::string::npos);
  CHECK(text.find("node-c") == std::string::npos);

  std::ostringstream all, json;
  REQUIRE(cluster_cmd(db.url(), true, false, all, err) == exit_ok);
  CHECK(all.str().find("stopped") != std::string::npos);
  REQUIRE(cluster_cmd(db.url(), false, true, json, err) == exit_ok);
  auto doc = nlohmann::json::parse(json.str());
  REQUIRE(doc.size() == 2);
  CHECK(doc[0]["node_id"] == "node-a");
  CHECK(doc[0]["inspector"] == "127.0.0.1:4242");
  CHECK(doc[0]["pools"][0]["name"] == "task_claimer");
  CHECK(doc[0]["status"] == "live");
}

TEST_CASE("a node address must be HOST:PORT with a valid port") {
  auto ok = parse_node_endpoint("127.0.0.1:4242");
  CHECK(ok.host == "127.0.0.1");
  CHECK(ok.port == 4242);
  CHECK_THROWS_AS(parse_node_endpoint("127.0.0.1"), usage_error);
  CHECK_THROWS_AS(parse_node_endpoint("127.0.0.1:0"), usage_error);
  CHECK_THROWS_AS(parse_node_endpoint("127.0.0.1:70000"), usage_error);
  CHECK_THROWS_AS(parse_node_endpoint(":4242"), usage_error);
}

TEST_CASE("inspect against a port with no inspector fails with a hint") {
  // Port 1 on loopback is never a Tasker inspector.
  std::ostringstream out, err;
  node_endpoint nowhere;
  nowhere.port = 1;
  CHECK(inspect_cmd(nowhere, false, 0, out, err) == exit_runtime_error);
  CHECK(err.str().find("telemetry.inspector.enabled") != std::string::npos);
}

TEST_CASE("the printed tree names every pool, executor and event it was given") {
  messaging::node_inspection tree;
  tree.coordinator = 10;
  tree.broker = 11;
  tree.broker_answered = true;
  tree.broker_now.size = 4;
  tree.broker_now.leased = 1;
  tree.broker_now.peak_leased = 3;
  tree.broker_now.leases.push_back({7, 21, "task_claimer", std::chrono::milliseconds{20}});
  messaging::pool_snapshot p;
  p.name = "task_claimer";
  p.executors = 1;
  p.min = 1;
  p.max = 3;
  p.target = 1;
  p.manual = true;
  tree.snapshot.pools.push_back(p);
  messaging::executor_snapshot e;
  e.id = 21;
  e.pool = "task_claimer";
  e.state = messaging::executor_state::healthy;
  e.paused = true;
  tree.snapshot.executors.push_back(e);
  tree.snapshot.events.push_back({std::chrono::seconds{3}, "manual_scale", "task_claimer", "size 1"});
  std::ostringstream out;
  print_inspection(tree, out);
  auto text = out.str();
  CHECK(text.find("pool task_claimer") != std::string::npos);
  CHECK(text.find("[manual]") != std::string::npos);
  CHECK(text.find("#21") != std::string::npos);
  CHECK(text.find("healthy (paused)") != std::string::npos);
  CHECK(text.find("lease 7") != std::string::npos);
  CHECK(text.find("1/4 leased (peak 3)") != std::string::npos);
  CHECK(text.find("manual_scale") != std::string::npos);
  auto doc = inspection_json(tree);
  CHECK(doc["pools"][0]["executors"][0]["id"] == 21);
  CHECK(doc["broker"]["leases"][0]["holder"] == 21);
  CHECK(doc["broker"]["peak_leased"] == 3);
}

TEST_CASE("inspect --watch asks the node again for every print and stops after --count") {
  published_node node;
  std::ostringstream out, err;
  auto start = std::chrono::steady_clock::now();
  REQUIRE(inspect_cmd(node.endpoint, true, 0.3, out, err, 3) == exit_ok);
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(err.str().empty());
  auto docs = json_documents(out.str());
  REQUIRE(docs.size() == 3);
  // Fresh answers, not one answer printed three times: the coordinator's
  // uptime grows by about the watch interval from one print to the next.
  for (std::size_t i = 1; i < docs.size(); ++i) {
    double before = docs[i - 1]["coordinator"]["uptime_seconds"];
    double now = docs[i]["coordinator"]["uptime_seconds"];
    CHECK(now - before >= 0.25);
  }
  CHECK(docs[2]["pools"][0]["name"] == "alpha");
  // Two pauses between three prints, no pause after the last.
  CHECK(elapsed >= 600ms);
  CHECK(elapsed < 10s);

  std::ostringstream text, text_err;
  REQUIRE(inspect_cmd(node.endpoint, false, 0.1, text, text_err, 2) == exit_ok);
  CHECK(occurrences(text.str(), "pool alpha") == 2);
}

TEST_CASE("inspect --watch ends with an error once the node is gone") {
  published_node node;
  std::ostringstream out, err;
  std::thread stopper{[&] {
    std::this_thread::sleep_for(700ms);
    caf::anon_send(node.coord, messaging::shutdown_atom::value);
  }};
  auto rc = inspect_cmd(node.endpoint, true, 0.2, out, err);
  stopper.join();
  CHECK(rc == exit_runtime_error);
  CHECK(json_documents(out.str()).size() >= 2);
  CHECK(err.str().find("error: ") != std::string::npos);
}

TEST_CASE("inspect over TLS prints the tree, and a plain inspect there is told to pass --tls") {
  self_signed certs;
  published_node node{certs.tls};
  node_endpoint tls_client = node.endpoint;
  tls_client.tls = certs.tls;
  std::ostringstream out, err;
  REQUIRE_MESSAGE(inspect_cmd(tls_client, false, 0, out, err) == exit_ok, err.str());
  CHECK(out.str().find("pool alpha") != std::string::npos);

  node_endpoint plain_client = node.endpoint;
  plain_client.connect_timeout = 1s;
  std::ostringstream plain_out, plain_err;
  auto start = std::chrono::steady_clock::now();
  CHECK(inspect_cmd(plain_client, false, 0, plain_out, plain_err) == exit_runtime_error);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(plain_err.str().find("pass --tls") != std::string::npos);
  CHECK(plain_out.str().empty());

  // pool and node drain go through the same connection code.
  std::ostringstream pool_out, pool_err;
  CHECK(pool_pause_cmd(tls_client, "alpha", true, false, pool_out, pool_err) == exit_ok);
  CHECK(pool_out.str().find("paused") != std::string::npos);
  std::ostringstream drain_out, drain_err;
  CHECK(node_drain_cmd(plain_client, 0, false, drain_out, drain_err) == exit_runtime_error);
  CHECK(drain_err.str().find("pass --tls") != std::string::npos);
}

TEST_CASE("inspect with TLS files that do not exist fails naming the file") {
  published_node plain;
  node_endpoint tls_client = plain.endpoint;
  tls_client.tls.enabled = true;
  tls_client.tls.certificate = "/nonexistent/client.pem";
  tls_client.tls.key = "/nonexistent/client.key";
  tls_client.tls.cafile = "/nonexistent/ca.pem";
  std::ostringstream out, err;
  CHECK(inspect_cmd(tls_client, false, 0, out, err) == exit_runtime_error);
  CHECK(err.str().find("/nonexistent/client.pem") != std::string::npos);
}
