// Secrets stay out of everything a node prints: the database password (from
// --database-url, TASKER_DATABASE_URL or a configuration file) and the
// inspector's TLS passphrase never appear in `tasker-node run` logs, text or
// JSON, nor in `tasker-node config show`, while both still name the database.

#include "config/redact.hpp"
#include "tests/integration/harness.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

using namespace tasker;
using namespace tasker::testing;
using namespace std::chrono_literals;

namespace fs = std::filesystem;

namespace {

const std::string password = "s3cret-Qv7pZr";
const std::string passphrase = "pass-Kw4nT9x";

// `url` (the scratch database's) with `password` as the user's password.
// The test server trusts every local connection, so any password works.
std::string with_password(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos)
    return url + " password=" + password; // key=value form
  auto authority = scheme + 3;
  auto end = url.find_first_of("/?", authority);
  auto at = url.rfind('@', end);
  REQUIRE_MESSAGE((at != std::string::npos && at >= authority),
                  "TASKER_DATABASE_URL names no user to give a password: " << url);
  auto colon = url.find(':', authority);
  if (colon != std::string::npos && colon < at)
    return url.substr(0, colon + 1) + password + url.substr(at);
  return url.substr(0, at) + ":" + password + url.substr(at);
}

// A per-test directory for logs and a copy of the configuration.
struct scratch_dir {
  fs::path path = fs::temp_directory_path() / ("tasker-secrets-" + std::to_string(getpid()));
  scratch_dir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// Sets or removes an environment variable of this process for a scope, so
// a child started inside it inherits exactly that.
class scoped_env {
public:
  scoped_env(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name))
      old_ = old;
    if (value)
      setenv(name, value->c_str(), 1);
    else
      unsetenv(name);
  }
  ~scoped_env() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

private:
  const char* name_;
  std::optional<std::string> old_;
};

// Runs a node until it reports running, stops it with SIGTERM and returns
// everything it printed from start to exit.
std::string run_node_once(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env, const fs::path& log) {
  child_process node{TASKER_NODE_BIN, args, env, log.string()};
  bool started = node.wait_for_output("running", 60s);
  REQUIRE_MESSAGE(started, "node did not start:\n" << node.output());
  node.signal(SIGTERM);
  CHECK_MESSAGE(node.wait(30s) == 0, "node did not stop cleanly:\n" << node.output());
  return node.output();
}

// Runs a command of the tasker-node binary to its end; returns its output.
std::string run_to_end(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env, const fs::path& log,
                       int expected_exit = 0) {
  child_process cmd{TASKER_NODE_BIN, args, env, log.string()};
  CHECK_MESSAGE(cmd.wait(30s) == expected_exit, "unexpected exit:\n" << cmd.output());
  return cmd.output();
}

std::vector<std::string> node_args(const std::string& node_id, const std::string& config_dir,
                                   const std::vector<std::string>& extra) {
  // debug level and the inspector: as much start-up output as a node prints.
  std::vector<std::string> args{"run", "--node-id", node_id, "--env", "test",
                                "--config-dir", config_dir, "--set",
                                "telemetry.logging.level=debug", "--inspector-port", "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

} // namespace

TEST_CASE("the database password given with --database-url is in no text log line") {
  cluster c;
  scratch_dir dir;
  auto url = with_password(c.db().url());
  auto redacted = config::redact_url(url);
  REQUIRE(redacted != url);
  auto out = run_node_once(
    node_args("secret-flag", source_dir() + "/config", {"--database-url", url}), {},
    dir.path / "flag.log");
  CHECK_FALSE(contains(out, password));
  // Still says which database it uses: the URL, password masked.
  CHECK_MESSAGE(contains(out, "database " + redacted), out);
  CHECK(contains(out, c.db().name()));

  auto shown = run_to_end({"config", "show", "--env", "test", "--config-dir",
                           source_dir() + "/config", "--database-url", url},
                          {}, dir.path / "show.log");
  CHECK_FALSE(contains(shown, password));
  CHECK_MESSAGE(contains(shown, "database.url = \"" + redacted + "\""), shown);
}

TEST_CASE("the password from TASKER_DATABASE_URL and the TLS passphrase are in no JSON log line") {
  cluster c;
  scratch_dir dir;
  auto url = with_password(c.db().url());
  auto redacted = config::redact_url(url);
  std::map<std::string, std::string> env{
    {"TASKER_DATABASE_URL", url}, {"TASKER_TELEMETRY__INSPECTOR__TLS__PASSPHRASE", passphrase}};
  auto out = run_node_once(
    node_args("secret-env", source_dir() + "/config", {"--log-format", "json"}), env,
    dir.path / "env.log");
  CHECK_FALSE(contains(out, password));
  CHECK_FALSE(contains(out, passphrase));
  CHECK_MESSAGE(contains(out, "\"msg\":\"configuration: "), out);
  CHECK_MESSAGE(contains(out, "database " + redacted), out);

  auto shown = run_to_end({"config", "show", "--env", "test", "--config-dir",
                           source_dir() + "/config"},
                          env, dir.path / "show.log");
  CHECK_FALSE(contains(shown, password));
  CHECK_FALSE(contains(shown, passphrase));
  CHECK_MESSAGE(contains(shown, "database.url = \"" + redacted + "\""), shown);
  CHECK_MESSAGE(contains(shown, "telemetry.inspector.tls.passphrase = \"***\""), shown);
  CHECK(contains(shown, "# TASKER_TELEMETRY__INSPECTOR__TLS__PASSPHRASE"));
}

TEST_CASE("the password written in a configuration file is in no log line and not shown") {
  cluster c;
  scratch_dir dir;
  auto url = with_password(c.db().url());
  auto redacted = config::redact_url(url);
  // A copy of the repository's configuration whose database.toml holds the URL.
  auto config_dir = dir.path / "config";
  fs::copy(source_dir() + "/config", config_dir, fs::copy_options::recursive);
  {
    std::ofstream extra{config_dir / "tasker" / "environments" / "test" / "secrets.toml"};
    extra << "[database]\nurl = \"" << url << "\"\n\n[telemetry.inspector.tls]\npassphrase = \""
          << passphrase << "\"\n";
  }
  // The variable would override the file: the children must not inherit it.
  scoped_env no_url{"TASKER_DATABASE_URL", std::nullopt};
  auto out = run_node_once(node_args("secret-file", config_dir.string(), {}), {},
                           dir.path / "file.log");
  CHECK_FALSE(contains(out, password));
  CHECK_FALSE(contains(out, passphrase));
  CHECK_MESSAGE(contains(out, "database " + redacted), out);

  auto json = run_node_once(node_args("secret-file-json", config_dir.string(),
                                      {"--log-format", "json"}),
                            {}, dir.path / "file-json.log");
  CHECK_FALSE(contains(json, password));
  CHECK_FALSE(contains(json, passphrase));
  CHECK_MESSAGE(contains(json, "database " + redacted), json);

  auto shown = run_to_end({"config", "show", "--env", "test", "--config-dir", config_dir.string()},
                          {}, dir.path / "show.log");
  CHECK_FALSE(contains(shown, password));
  CHECK_FALSE(contains(shown, passphrase));
  CHECK_MESSAGE(contains(shown, "database.url = \"" + redacted + "\""), shown);
  CHECK(contains(shown, "secrets.toml"));
}

TEST_CASE("a node that cannot reach its database does not print the password either") {
  scratch_dir dir;
  // Port 1 on loopback: nothing listens, the connection is refused.
  auto url = with_password("postgresql://postgres@127.0.0.1:1/tasker");
  auto out = run_to_end(node_args("secret-refused", source_dir() + "/config",
                                  {"--database-url", url}),
                        {}, dir.path / "refused.log", 1);
  CHECK_FALSE(contains(out, password));
  CHECK_MESSAGE(contains(out, "cannot connect to the database"), out);
  CHECK(contains(out, "127.0.0.1"));
}
