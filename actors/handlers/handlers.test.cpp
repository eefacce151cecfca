#include "actors/handlers/builtin_handlers.hpp"
#include "actors/handlers/handler_registry.hpp"

#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <thread>

using namespace tasker;
using namespace tasker::actors;

namespace {

messaging::step_message step_with(nlohmann::json inputs, std::int32_t attempt = 1) {
  messaging::step_message m;
  m.task_uuid = "11111111-1111-1111-1111-111111111111";
  m.step_uuid = "22222222-2222-2222-2222-222222222222";
  m.step_name = "demo";
  m.handler = "test";
  m.namespace_name = "shop";
  m.task_name = "t";
  m.inputs = std::move(inputs);
  m.attempt = attempt;
  m.timeout_seconds = 30;
  return m;
}

/// An httplib server on 127.0.0.1 and an ephemeral port, stopped on destruction.
struct loopback_server {
  httplib::Server srv;
  int port = 0;
  std::thread thread;
  void start() {
    port = srv.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread{[this] { srv.listen_after_bind(); }};
    for (int i = 0; i < 500 && !srv.is_running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    REQUIRE(srv.is_running());
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
  ~loopback_server() {
    srv.stop();
    if (thread.joinable())
      thread.join();
  }
};

} // namespace

TEST_CASE("the builtin registry offers noop, sleep, fail, command and http") {
  auto reg = make_builtin_registry();
  CHECK(reg->names() == std::vector<std::string>{"command", "fail", "http", "noop", "sleep"});
  CHECK(reg->find("noop") != nullptr);
  CHECK(reg->find("missing") == nullptr);
}

TEST_CASE("a registered handler replaces a builtin of the same name") {
  auto reg = make_builtin_registry();
  reg->register_handler("noop", [](const messaging::step_message&) {
    return handler_result::failure("replaced", false);
  });
  auto r = (*reg->find("noop"))(step_with({}));
  CHECK_FALSE(r.success);
  CHECK(r.error_message == "replaced");
}

TEST_CASE("noop succeeds and echoes the step name") {
  auto r = handlers::noop(step_with({}));
  CHECK(r.success);
  CHECK(r.results["step_name"] == "demo");
}

TEST_CASE("sleep waits the given milliseconds and rejects a negative duration") {
  auto started = std::chrono::steady_clock::now();
  auto r = handlers::sleep(step_with({{"ms", 50}}));
  CHECK(r.success);
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds{50});
  auto bad = handlers::sleep(step_with({{"ms", -1}}));
  CHECK_FALSE(bad.success);
  CHECK_FALSE(bad.retryable);
  CHECK(bad.error_message.find("inputs.ms") != std::string::npos);
}

TEST_CASE("fail fails retryably while the attempt is within the planned failures") {
  CHECK_FALSE(handlers::fail(step_with({{"failures", 2}}, 1)).success);
  auto second = handlers::fail(step_with({{"failures", 2}}, 2));
  CHECK_FALSE(second.success);
  CHECK(second.retryable);
  CHECK(handlers::fail(step_with({{"failures", 2}}, 3)).success);
  CHECK_FALSE(handlers::fail(step_with({}, 1)).success);
  CHECK(handlers::fail(step_with({}, 2)).success);
}

TEST_CASE("command returns the JSON the program writes to stdout") {
  // cat echoes its stdin, the step message, which is JSON.
  auto r = handlers::command(step_with({{"program", "cat"}}));
  REQUIRE(r.success);
  CHECK(r.results["step_uuid"] == "22222222-2222-2222-2222-222222222222");
  CHECK(r.results["inputs"]["program"] == "cat");
}

TEST_CASE("command passes args without a shell") {
  auto r = handlers::command(step_with({{"program", "echo"}, {"args", {"{\"n\":", "1}"}}}));
  REQUIRE(r.success);
  CHECK(r.results["n"] == 1);
  // A shell would expand this; exec passes it as is, so it is not JSON.
  auto literal = handlers::command(step_with({{"program", "echo"}, {"args", {"$HOME"}}}));
  CHECK_FALSE(literal.success);
  CHECK(literal.error_message.find("$HOME") != std::string::npos);
}

TEST_CASE("command fails with the exit status and stderr of a failing program") {
  auto r = handlers::command(step_with({{"program", "false"}}));
  CHECK_FALSE(r.success);
  CHECK(r.retryable);
  CHECK(r.error_message.find("exited with status 1") != std::string::npos);
  auto ls = handlers::command(step_with({{"program", "ls"}, {"args", {"/no/such/dir"}}}));
  CHECK_FALSE(ls.success);
  CHECK(ls.error_message.find("/no/such/dir") != std::string::npos);
}

TEST_CASE("command stdout over the given limit is a non-retryable failure naming the limit") {
  // cat echoes the step message, well over 16 bytes.
  auto r = handlers::command(step_with({{"program", "cat"}}), 16);
  CHECK_FALSE(r.success);
  CHECK_FALSE(r.retryable);
  CHECK(r.error_message == "command 'cat' wrote more than 16 bytes to stdout");
  CHECK(handlers::command(step_with({{"program", "cat"}}), 4096).success);
}

TEST_CASE("command kills a program that outlives the step timeout") {
  auto step = step_with({{"program", "sleep"}, {"args", {"30"}}});
  step.timeout_seconds = 1;
  auto started = std::chrono::steady_clock::now();
  auto r = handlers::command(step);
  CHECK_FALSE(r.success);
  CHECK(r.error_message.find("timed out") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{25});
}

TEST_CASE("command refuses a missing program and ill-typed inputs without retry") {
  auto missing = handlers::command(step_with({{"program", "/no/such/program"}}));
  CHECK_FALSE(missing.success);
  CHECK_FALSE(missing.retryable);
  CHECK(missing.error_message.find("/no/such/program") != std::string::npos);
  auto noprog = handlers::command(step_with({}));
  CHECK_FALSE(noprog.retryable);
  CHECK(noprog.error_message.find("inputs.program") != std::string::npos);
  auto badarg = handlers::command(step_with({{"program", "true"}, {"args", {1}}}));
  CHECK(badarg.error_message.find("inputs.args[0]") != std::string::npos);
}

TEST_CASE("loopback hosts are recognised from the URL text alone") {
  CHECK(handlers::is_loopback_host("localhost"));
  CHECK(handlers::is_loopback_host("127.0.0.1"));
  CHECK(handlers::is_loopback_host("127.4.5.6"));
  CHECK(handlers::is_loopback_host("[::1]"));
  CHECK_FALSE(handlers::is_loopback_host("10.0.0.1"));
  CHECK_FALSE(handlers::is_loopback_host("example.com"));
  CHECK_FALSE(handlers::is_loopback_host("127.0.0.1.example.com"));
}

TEST_CASE("http posts the step message and returns the JSON of a 2xx response") {
  loopback_server server;
  server.srv.Post("/run", [](const httplib::Request& req, httplib::Response& res) {
    auto body = nlohmann::json::parse(req.body);
    res.set_content(nlohmann::json{{"seen", body["step_name"]}}.dump(), "application/json");
  });
  server.start();
  auto http = handlers::make_http_handler({});
  auto r = http(step_with({{"url", server.url("/run")}}));
  REQUIRE(r.success);
  CHECK(r.results["seen"] == "demo");
}

TEST_CASE("http turns 503 with Retry-After into a retryable failure with the delay") {
  loopback_server server;
  server.srv.Post("/busy", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_header("Retry-After", "7");
    res.set_content("overloaded", "text/plain");
  });
  server.srv.Post("/bad", [](const httplib::Request&, httplib::Response& res) {
    res.status = 422;
    res.set_content("no such order", "text/plain");
  });
  server.start();
  auto http = handlers::make_http_handler({});
  auto busy = http(step_with({{"url", server.url("/busy")}}));
  CHECK_FALSE(busy.success);
  CHECK(busy.retryable);
  REQUIRE(busy.retry_after_seconds.has_value());
  CHECK(*busy.retry_after_seconds == doctest::Approx(7.0));
  CHECK(busy.error_message.find("503") != std::string::npos);
  auto bad = http(step_with({{"url", server.url("/bad")}}));
  CHECK_FALSE(bad.success);
  CHECK_FALSE(bad.retryable);
  CHECK(bad.error_message.find("422") != std::string::npos);
  CHECK(bad.error_message.find("no such order") != std::string::npos);
}

TEST_CASE("http refuses a host that is neither loopback nor allowed, without connecting") {
  auto http = handlers::make_http_handler({});
  auto r = http(step_with({{"url", "http://192.0.2.1:9/hook"}}));
  CHECK_FALSE(r.success);
  CHECK_FALSE(r.retryable);
  CHECK(r.error_message.find("192.0.2.1") != std::string::npos);
  auto notutl = http(step_with({{"url", "ftp://127.0.0.1/x"}}));
  CHECK(notutl.error_message.find("not an http(s) URL") != std::string::npos);
}

TEST_CASE("http accepts a host on the allow-list") {
  loopback_server server;
  server.srv.Post("/ok", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  server.start();
  // "127.0.0.1" is loopback anyway; the allow-list must not break it, and an
  // allowed name is matched case-insensitively.
  auto http = handlers::make_http_handler({"LOCALHOST"});
  CHECK(http(step_with({{"url", server.url("/ok")}})).success);
  CHECK(http(step_with({{"url", "http://localhost:" + std::to_string(server.port) + "/ok"}}))
          .success);
}
