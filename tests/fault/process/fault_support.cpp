#include "tests/fault/process/fault_support.hpp"

#include "tests/integration/harness.hpp"

#include "actors/processors/processors.hpp"
#include "config/tasker_config.hpp"

#include <doctest/doctest.h>
#include <httplib.h>
#include <pqxx/pqxx>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <vector>

namespace tasker::testing {

using namespace std::chrono_literals;

namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// Runs `command` through the shell; its exit code, output (both streams) in `out`.
int run_shell(const std::string& command, std::string& out) {
  out.clear();
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr)
    throw std::runtime_error("cannot run: " + command);
  std::array<char, 4096> buf{};
  while (auto n = std::fread(buf.data(), 1, buf.size(), pipe))
    out.append(buf.data(), n);
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  return s;
}

} // namespace

bool long_variant() {
  const char* v = std::getenv("TASKER_FAULT_LONG");
  return v != nullptr && std::string{v} == "1";
}

dedicated_server::dedicated_server(int max_connections) : max_connections_(max_connections) {
  // Under /tmp: the server runs as `postgres`, which must reach the directory;
  // pg.sh hands it over when run as root.
  std::string pattern = "/tmp/tasker-fault-pg-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("cannot create a directory for the test's PostgreSQL cluster");
  dir_ = pattern;
  std::filesystem::permissions(dir_, std::filesystem::perms::owner_all
                                       | std::filesystem::perms::group_read
                                       | std::filesystem::perms::group_exec
                                       | std::filesystem::perms::others_read
                                       | std::filesystem::perms::others_exec);
  url_ = trim(pg_sh("start"));
  // The last line is the URL; earlier lines would be pg.sh's own notes.
  if (auto nl = url_.rfind('\n'); nl != std::string::npos)
    url_ = url_.substr(nl + 1);
  if (const char* previous = std::getenv("TASKER_DATABASE_URL"))
    previous_url_ = previous;
  ::setenv("TASKER_DATABASE_URL", url_.c_str(), 1);
}

dedicated_server::~dedicated_server() {
  if (previous_url_)
    ::setenv("TASKER_DATABASE_URL", previous_url_->c_str(), 1);
  else
    ::unsetenv("TASKER_DATABASE_URL");
  try {
    pg_sh("destroy");
  } catch (const std::exception&) {
    // Left in /tmp; never throw from a destructor.
  }
}

std::string dedicated_server::pg_sh(const std::string& command) const {
  std::string env = "TASKER_PG_DIR=" + shell_quote(dir_);
  if (max_connections_ > 0)
    env += " TASKER_PG_MAX_CONNECTIONS=" + std::to_string(max_connections_);
  std::string out;
  int rc = run_shell(env + " " + shell_quote(source_dir() + "/tools/pg.sh") + " " + command, out);
  if (rc != 0)
    throw std::runtime_error("tools/pg.sh " + command + " (TASKER_PG_DIR=" + dir_
                             + ") failed with exit code " + std::to_string(rc) + ":\n" + out);
  return out;
}

void dedicated_server::stop() {
  pg_sh("stop");
}

void dedicated_server::start() {
  auto again = trim(pg_sh("start"));
  if (auto nl = again.rfind('\n'); nl != std::string::npos)
    again = again.substr(nl + 1);
  if (again != url_)
    throw std::runtime_error("the restarted PostgreSQL cluster moved from " + url_ + " to "
                             + again + " (its port was taken meanwhile)");
}

std::size_t run_request_batch(const std::string& database_url, const std::string& node_id) {
  pqxx::connection conn{database_url};
  config::tasker_config cfg;
  return actors::make_processor(config::executor_type::task_request_processor, cfg, node_id)
    ->process_batch(conn, 10)
    .items;
}

void dedicated_server::quiet_background_flushes() {
  {
    pqxx::connection admin{url_};
    pqxx::nontransaction tx{admin};
    tx.exec0("ALTER SYSTEM SET autovacuum = off");
    tx.exec0("ALTER SYSTEM SET bgwriter_lru_maxpages = 0");
    tx.exec0("ALTER SYSTEM SET checkpoint_timeout = '1d'");
  }
  stop();
  start();
}

dedicated_server::frozen_wal_writer::frozen_wal_writer(dedicated_server& server)
    : server_(server) {
  pqxx::connection conn{server_.url_};
  pqxx::nontransaction tx{conn};
  auto rows = tx.exec("SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'");
  if (rows.size() != 1)
    throw std::runtime_error("expected one WAL writer in pg_stat_activity, found "
                             + std::to_string(rows.size()));
  const int pid = rows[0][0].as<int>();
  if (::kill(pid, SIGSTOP) != 0)
    throw std::runtime_error("cannot stop PostgreSQL's WAL writer (pid " + std::to_string(pid)
                             + ")");
  server_.frozen_pid_ = pid;
}

dedicated_server::frozen_wal_writer::~frozen_wal_writer() {
  if (server_.frozen_pid_ > 0)
    ::kill(server_.frozen_pid_, SIGCONT);
  server_.frozen_pid_ = 0;
}

namespace {

// The parent pid of `pid` from /proc (0 when it is gone or a zombie).
int live_parent_of(int pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  if (!std::getline(in, line))
    return 0;
  // pid (comm) state ppid ...: comm may hold spaces, so read after its ')'.
  std::istringstream rest{line.substr(line.rfind(')') + 1)};
  char state = 0;
  int ppid = 0;
  rest >> state >> ppid;
  return state == 'Z' ? 0 : ppid;
}

} // namespace

void dedicated_server::crash() {
  int postmaster = 0;
  {
    std::ifstream pid_file{dir_ + "/data/postmaster.pid"};
    if (!(pid_file >> postmaster) || postmaster <= 0)
      throw std::runtime_error("no postmaster.pid in " + dir_ + "/data: is the server running?");
  }
  std::vector<int> children;
  for (const auto& entry : std::filesystem::directory_iterator{"/proc"}) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") == std::string::npos
        && live_parent_of(std::stoi(name)) == postmaster)
      children.push_back(std::stoi(name));
  }
  if (children.empty())
    throw std::runtime_error("PostgreSQL's postmaster " + std::to_string(postmaster)
                             + " has no server processes to kill");
  const auto log_before = server_log().size();
  for (int pid : children)
    ::kill(pid, SIGKILL);
  frozen_pid_ = 0;
  // Back once the postmaster has reset itself and, after its recovery,
  // accepts connections.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  auto fail = [&](const std::string& what) {
    throw std::runtime_error("PostgreSQL did not recover within 60 s of a crash (" + what
                             + "); its log:\n" + server_log().substr(log_before));
  };
  while (server_log().find("all server processes terminated; reinitializing", log_before)
         == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline)
      fail("no reset");
    std::this_thread::sleep_for(20ms);
  }
  for (;;) {
    try {
      pqxx::connection conn{url_};
      pqxx::nontransaction tx{conn};
      tx.exec("SELECT 1");
      return;
    } catch (const std::exception& e) {
      if (std::chrono::steady_clock::now() > deadline)
        fail(e.what());
    }
    std::this_thread::sleep_for(50ms);
  }
}

std::string dedicated_server::server_log() const {
  std::ifstream in{dir_ + "/server.log"};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

http_answer http_get(std::uint16_t port, const std::string& path) {
  httplib::Client client{"127.0.0.1", port};
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);
  http_answer out;
  auto res = client.Get(path.c_str());
  if (!res) {
    out.error = httplib::to_string(res.error());
    return out;
  }
  out.status = res->status;
  out.body = res->body;
  return out;
}

nlohmann::json http_get_json(std::uint16_t port, const std::string& path, int* status) {
  auto answer = http_get(port, path);
  if (status != nullptr)
    *status = answer.status;
  auto doc = nlohmann::json::parse(answer.body, nullptr, false);
  REQUIRE_MESSAGE(!doc.is_discarded(), "GET " << path << " on port " << port
                                              << " answered status " << answer.status
                                              << " with no JSON body: " << answer.body
                                              << answer.error);
  return doc;
}

std::uint16_t http_port_of(const tools::child_process& node) {
  const std::string marker = "tasker-node: http on ";
  auto text = node.output();
  auto at = text.find(marker);
  REQUIRE_MESSAGE(at != std::string::npos, "the node printed no HTTP address:\n" << text);
  auto line_end = text.find('\n', at);
  auto line = text.substr(at + marker.size(), line_end - at - marker.size());
  auto colon = line.rfind(':');
  REQUIRE_MESSAGE(colon != std::string::npos, "no port in: " << line);
  return static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
}

std::string progress_summary(const std::string& database_url) {
  std::ostringstream out;
  try {
    pqxx::connection conn{database_url};
    pqxx::read_transaction tx{conn};
    out << "tasks:";
    for (const auto& row : tx.exec("SELECT current_state, count(*), count(claimed_by) FROM tasks "
                                   "GROUP BY 1 ORDER BY 1"))
      out << ' ' << row[0].c_str() << '=' << row[1].c_str() << " (" << row[2].c_str()
          << " claimed)";
    out << "; steps:";
    for (const auto& row :
         tx.exec("SELECT current_state, count(*) FROM workflow_steps GROUP BY 1 ORDER BY 1"))
      out << ' ' << row[0].c_str() << '=' << row[1].c_str();
    out << "; queues:";
    for (const auto& row : tx.exec("SELECT c.relname, c.reltuples FROM pg_class c JOIN "
                                   "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = "
                                   "'tasker_mq' AND c.relname LIKE 'q\\_%' ORDER BY 1"))
      out << ' ' << row[0].c_str() << '='
          << tx.exec1("SELECT count(*) FROM tasker_mq." + tx.quote_name(row[0].c_str()))[0]
               .c_str();
  } catch (const std::exception& e) {
    out << " (unreadable: " << e.what() << ")";
  }
  return out.str();
}

std::size_t occurrences(const std::string& haystack, const std::string& text) {
  std::size_t n = 0;
  for (auto at = haystack.find(text); at != std::string::npos;
       at = haystack.find(text, at + text.size()))
    ++n;
  return n;
}

bool poll_until(const std::function<bool()>& probe, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (probe())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(200ms);
  }
}

} // namespace tasker::testing
