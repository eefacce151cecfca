#include "tools/common/child_process.hpp"

#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace tasker::tools {

using namespace std::chrono_literals;

child_process::child_process(const std::string& program, const std::vector<std::string>& args,
                             const std::map<std::string, std::string>& env,
                             const std::string& log_path)
    : log_path_(log_path) {
  std::vector<std::string> argv_store{program};
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  // Emptied here, before the child exists: truncated by the child instead, a
  // log left by an earlier run could still be read (and its readiness line
  // found) by this process's first wait_for_output.
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0)
    throw std::runtime_error("cannot open the log " + log_path);
  pid_ = fork();
  if (pid_ < 0) {
    ::close(log_fd);
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    // Dies with its parent: a caller that crashes leaves no process behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // A fresh mask: the caller may block signals, the node needs them.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(log_fd, 1); // the duplicates do not inherit O_CLOEXEC
    dup2(log_fd, 2);
    for (const auto& [k, v] : env)
      setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    for (auto& a : argv_store)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  ::close(log_fd);
}

child_process::~child_process() {
  stop(30s);
}

bool child_process::running() {
  if (reaped_)
    return false;
  int status = 0;
  auto r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return r == 0;
}

void child_process::signal(int sig) {
  if (!reaped_)
    ::kill(pid_, sig);
}

int child_process::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return -1;
    std::this_thread::sleep_for(20ms);
  }
  return status_;
}

int child_process::stop(std::chrono::milliseconds grace) {
  if (!running())
    return status_;
  signal(SIGTERM);
  auto rc = wait(grace);
  if (rc < 0) {
    signal(SIGKILL);
    rc = wait(10s);
  }
  return rc;
}

std::string child_process::output() const {
  std::ifstream in{log_path_};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool child_process::wait_for_output(const std::string& text, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (output().find(text) != std::string::npos)
      return true;
    if (!running())
      return output().find(text) != std::string::npos;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

double child_process::cpu_seconds() const {
  // Fields 14 and 15 of /proc/<pid>/stat, after the parenthesised command name.
  std::ifstream in{"/proc/" + std::to_string(pid_) + "/stat"};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream fields{text.substr(close + 2)};
  std::string skip;
  for (int i = 3; i < 14; ++i)
    fields >> skip;
  unsigned long long utime = 0, stime = 0;
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

} // namespace tasker::tools
