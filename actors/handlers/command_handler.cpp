// The `command` built-in: posix_spawn (no shell, nothing between fork and exec
// that is not async-signal-safe), stdin/stdout/stderr through pipes served by
// one poll() loop so a large message or a chatty program cannot deadlock us.
#include "actors/handlers/builtin_handlers.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace tasker::actors::handlers {

namespace {

/// Only the tail of stderr is kept; the error message quotes at most this much.
constexpr std::size_t max_stderr_bytes = 2048;

/// Closes the descriptors it owns.
struct fd_set_guard {
  int fds[6] = {-1, -1, -1, -1, -1, -1};
  ~fd_set_guard() {
    for (int fd : fds)
      if (fd >= 0)
        ::close(fd);
  }
  void close(int& fd) {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }
};

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

/// Reads what is available on `fd` into `out`; false at end of file.
bool drain(int fd, std::string& out, std::size_t keep, bool keep_tail, bool& overflow) {
  char buf[8192];
  auto n = ::read(fd, buf, sizeof buf);
  if (n < 0)
    return errno == EAGAIN || errno == EINTR;
  if (n == 0)
    return false;
  out.append(buf, static_cast<std::size_t>(n));
  if (out.size() > keep) {
    overflow = true;
    if (keep_tail)
      out.erase(0, out.size() - keep);
    else
      out.resize(keep);
  }
  return true;
}

struct spawn_outcome {
  int status = 0;
  bool timed_out = false;
  bool stdout_overflow = false;
  std::string out;
  std::string err;
};

} // namespace

handler_result command(const messaging::step_message& step, std::size_t max_stdout_bytes) {
  const auto& in = step.inputs;
  if (!in.is_object() || !in.contains("program") || !in["program"].is_string()
      || in["program"].get<std::string>().empty())
    return handler_result::failure("inputs.program: expected a non-empty string", false);
  std::vector<std::string> args{in["program"].get<std::string>()};
  if (in.contains("args")) {
    if (!in["args"].is_array())
      return handler_result::failure("inputs.args: expected an array of strings", false);
    for (std::size_t i = 0; i < in["args"].size(); ++i) {
      if (!in["args"][i].is_string())
        return handler_result::failure(
          "inputs.args[" + std::to_string(i) + "]: expected a string", false);
      args.push_back(in["args"][i].get<std::string>());
    }
  }
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  // [0,1] stdin, [2,3] stdout, [4,5] stderr; O_CLOEXEC so no other spawned
  // program inherits them (dup2 onto 0..2 clears the flag in the child).
  fd_set_guard fds;
  for (int i = 0; i < 3; ++i)
    if (::pipe2(&fds.fds[2 * i], O_CLOEXEC) != 0)
      return handler_result::failure(std::string{"command: pipe: "} + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds.fds[0], 0);
  posix_spawn_file_actions_adddup2(&actions, fds.fds[3], 1);
  posix_spawn_file_actions_adddup2(&actions, fds.fds[5], 2);
  // The worker ignores SIGPIPE (a program may exit without reading stdin); the
  // program gets default dispositions back, as it would from a shell.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return handler_result::failure(
      "command '" + args[0] + "' cannot be started: " + std::strerror(rc), false);
  fds.close(fds.fds[0]);
  fds.close(fds.fds[3]);
  fds.close(fds.fds[5]);
  for (int fd : {fds.fds[1], fds.fds[2], fds.fds[4]})
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  // A program that exits without reading all of stdin must not kill the
  // worker with SIGPIPE; write() then fails with EPIPE, which is handled.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { ::signal(SIGPIPE, SIG_IGN); });
  const std::string input = step.to_json().dump();
  std::size_t written = 0;
  spawn_outcome o;
  bool err_overflow = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{step.timeout_seconds};
  while (fds.fds[1] >= 0 || fds.fds[2] >= 0 || fds.fds[4] >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      o.timed_out = true;
      break;
    }
    pollfd p[3] = {{fds.fds[1], POLLOUT, 0}, {fds.fds[2], POLLIN, 0}, {fds.fds[4], POLLIN, 0}};
    if (::poll(p, 3, static_cast<int>(std::min<long long>(left.count(), 1000))) < 0
        && errno != EINTR)
      break;
    if (fds.fds[1] >= 0 && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      auto n = ::write(fds.fds[1], input.data() + written, input.size() - written);
      if (n > 0)
        written += static_cast<std::size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input.size())
        fds.close(fds.fds[1]); // EPIPE: the program does not read stdin, which is fine
    }
    if (fds.fds[2] >= 0 && (p[1].revents & (POLLIN | POLLERR | POLLHUP))
        && !drain(fds.fds[2], o.out, max_stdout_bytes, false, o.stdout_overflow))
      fds.close(fds.fds[2]);
    if (fds.fds[4] >= 0 && (p[2].revents & (POLLIN | POLLERR | POLLHUP))
        && !drain(fds.fds[4], o.err, max_stderr_bytes, true, err_overflow))
      fds.close(fds.fds[4]);
  }
  if (o.timed_out)
    ::kill(pid, SIGKILL);
  while (::waitpid(pid, &o.status, 0) < 0 && errno == EINTR) {
  }

  const std::string who = "command '" + args[0] + "'";
  if (o.timed_out)
    return handler_result::failure(who + " timed out after "
                                   + std::to_string(step.timeout_seconds) + " s and was killed");
  auto err = trim(o.err);
  auto with_stderr = [&](std::string msg) {
    return err.empty() ? msg : msg + ": " + (err_overflow ? "..." : "") + err;
  };
  if (WIFSIGNALED(o.status))
    return handler_result::failure(
      with_stderr(who + " was killed by signal " + std::to_string(WTERMSIG(o.status))));
  if (WEXITSTATUS(o.status) != 0)
    return handler_result::failure(
      with_stderr(who + " exited with status " + std::to_string(WEXITSTATUS(o.status))));
  if (o.stdout_overflow)
    return handler_result::failure(
      who + " wrote more than " + std::to_string(max_stdout_bytes) + " bytes to stdout", false);
  auto out = trim(o.out);
  if (out.empty())
    return handler_result::ok();
  auto json = nlohmann::json::parse(out, nullptr, false);
  if (json.is_discarded())
    return handler_result::failure(
      who + " wrote stdout that is not JSON: " + out.substr(0, 200), false);
  return handler_result::ok(std::move(json));
}

} // namespace tasker::actors::handlers
