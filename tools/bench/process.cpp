#include "tools/bench/process.hpp"

#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace tasker::bench {

using namespace std::chrono_literals;

process::process(const std::string& program, const std::vector<std::string>& args,
                 const std::string& log_path)
  : log_path_(log_path) {
  std::vector<std::string> argv_store{program};
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  pid_ = fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    std::vector<char*> argv;
    for (auto& a : argv_store)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(program.c_str(), argv.data());
    _exit(127);
  }
}

process::~process() {
  if (running())
    stop(30s);
}

bool process::running() {
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

int process::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return -1;
    std::this_thread::sleep_for(20ms);
  }
  return status_;
}

int process::stop(std::chrono::milliseconds grace) {
  if (!running())
    return status_;
  ::kill(pid_, SIGTERM);
  auto rc = wait(grace);
  if (rc < 0) {
    ::kill(pid_, SIGKILL);
    rc = wait(10s);
  }
  return rc;
}

std::string process::output() const {
  std::ifstream in{log_path_};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool process::wait_for_output(const std::string& text, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (output().find(text) != std::string::npos)
      return true;
    if (!running())
      return output().find(text) != std::string::npos;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

double process::cpu_seconds() const {
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

} // namespace tasker::bench
