#pragma once
/// A child process of the benchmark: a `tasker-node` (node or worker) started
/// with arguments, its output captured in a log file. The destructor ends it
/// (SIGTERM, then SIGKILL after a grace period), so no run leaves one behind.

#include <chrono>
#include <string>
#include <vector>

namespace tasker::bench {

/// One running child process.
class process {
public:
  /// Starts `program` with `args`, standard output and error going to `log_path`.
  process(const std::string& program, const std::vector<std::string>& args,
          const std::string& log_path);
  /// Stops the child when it still runs (see the file comment).
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  /// The child's process id.
  int pid() const noexcept { return pid_; }

  /// True while the child has not exited.
  bool running();

  /// SIGTERM, then SIGKILL when it has not exited within `grace`; the exit code.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds{30});

  /// The captured output so far.
  std::string output() const;

  /// Polls the output until it contains `text`; false on timeout or exit.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout);

  /// CPU seconds (user + system) the child has used so far, from /proc.
  double cpu_seconds() const;

private:
  int wait(std::chrono::milliseconds timeout);

  int pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
  std::string log_path_;
};

} // namespace tasker::bench
