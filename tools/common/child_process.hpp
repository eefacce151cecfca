#pragma once
/// A child process: a program (usually `tasker-node`) started with arguments
/// and extra environment, its output captured in a log file. The destructor
/// ends it (SIGTERM, then SIGKILL after a grace period), and the child is
/// killed when the thread that started it exits, so neither a failing test
/// nor an aborted benchmark leaves a process behind.

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace tasker::tools {

/// One running child process.
class child_process {
public:
  /// Starts `program` with `args`, standard output and error going to
  /// `log_path`; `env` is added to this process's environment.
  child_process(const std::string& program, const std::vector<std::string>& args,
                const std::map<std::string, std::string>& env, const std::string& log_path);
  /// Stops the child when it still runs (see the file comment).
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The child's process id.
  int pid() const noexcept { return pid_; }

  /// True while the child has not exited.
  bool running();

  /// Sends `sig`.
  void signal(int sig);

  /// Waits up to `timeout` for the exit; the exit code (128 + signal when
  /// killed), or -1 when it is still running.
  int wait(std::chrono::milliseconds timeout);

  /// SIGTERM, then SIGKILL when it has not exited within `grace`; the exit code.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds{30});

  /// The captured output so far.
  std::string output() const;

  /// Polls the captured output until it contains `text`; false on timeout,
  /// or when the child exited without writing it.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout);

  /// CPU seconds (user + system) the child has used so far, from /proc.
  double cpu_seconds() const;

private:
  int pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
  std::string log_path_;
};

} // namespace tasker::tools
