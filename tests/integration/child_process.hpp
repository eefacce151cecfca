#pragma once
/// A child process for integration tests: a `tasker-node` started with
/// arguments and extra environment, its output captured in a log file. The
/// destructor ends it (SIGTERM, then SIGKILL after a grace period), so a
/// failing test never leaves a process behind.

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace tasker::testing {

/// One running child process.
class child_process {
public:
  /// Starts `program` with `args`; `env` is added to this process's environment.
  child_process(const std::string& program, const std::vector<std::string>& args,
                const std::map<std::string, std::string>& env, const std::string& log_path);
  /// Terminates the child when it still runs (see the file comment).
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The child's process id.
  int pid() const noexcept { return pid_; }

  /// True while the child has not exited.
  bool running();

  /// Sends `signal`.
  void signal(int sig);

  /// Waits up to `timeout` for the exit; the exit code (128 + signal when
  /// killed), or -1 when it is still running.
  int wait(std::chrono::milliseconds timeout);

  /// The captured output so far.
  std::string output() const;

  /// Polls the captured output until it contains `text`, up to `timeout`.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout);

private:
  int pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
  std::string log_path_;
};

} // namespace tasker::testing
