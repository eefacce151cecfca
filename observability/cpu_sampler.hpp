#pragma once
/// CPU use of this process per core, from /proc/self/stat deltas over time,
/// and of the whole host, from /proc/stat.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string_view>

namespace tasker::observability {

/// utime + stime (in clock ticks) from the text of /proc/<pid>/stat, or
/// nothing when the text is malformed. The command name may hold spaces and
/// parentheses, so fields are counted from the last ')'.
std::optional<std::uint64_t> parse_cpu_ticks(std::string_view proc_stat);

/// Resident set size in bytes from the text of /proc/<pid>/statm (its second
/// field, in pages of `page_size` bytes), or nothing when malformed.
std::optional<std::uint64_t> parse_resident_bytes(std::string_view proc_statm,
                                                  std::uint64_t page_size);

/// This process's resident memory in bytes; 0 when /proc/self/statm cannot be
/// read (off Linux). Long-running nodes watch it for growth (executor
/// recycling keeps it flat).
std::uint64_t resident_memory_bytes();

/// CPU seconds used over `wall` seconds, divided by `cores`, clamped to
/// [0, 1]; 0 when `wall` is not positive or `cores` is 0.
double cpu_per_core(double cpu_seconds, double wall_seconds, unsigned cores);

/// Samples this process's CPU time and reports the share of all cores it used
/// between samples. Thread-safe.
///
/// A sample closer than `min_interval` to the previous one would be mostly
/// noise (ticks are 10 ms), so `utilization()` then returns the value of the
/// last complete interval instead.
class cpu_sampler {
public:
  /// Takes the first sample now; `cores` is the divisor (at least 1).
  explicit cpu_sampler(unsigned cores, std::filesystem::path stat_file = "/proc/self/stat",
                       std::chrono::milliseconds min_interval = std::chrono::milliseconds{500});

  /// CPU used per core since the previous sample, in [0, 1]; 0 when the stat
  /// file cannot be read (off Linux).
  double utilization();

  /// The divisor in use.
  unsigned cores() const noexcept { return cores_; }

private:
  std::optional<std::uint64_t> read_ticks() const;

  unsigned cores_;
  std::filesystem::path stat_file_;
  std::chrono::milliseconds min_interval_;
  double seconds_per_tick_;
  std::mutex mtx_;
  std::optional<std::uint64_t> last_ticks_;
  std::chrono::steady_clock::time_point last_at_;
  double last_value_ = 0.0;
};

/// Busy and total clock ticks of all CPUs together.
struct host_cpu_ticks {
  std::uint64_t busy = 0;
  std::uint64_t total = 0;
};

/// The aggregate "cpu" line of /proc/stat: total is the sum of user, nice,
/// system, idle, iowait, irq, softirq and steal; busy is total minus idle and
/// iowait. Nothing when the line is missing or malformed.
std::optional<host_cpu_ticks> parse_host_cpu_ticks(std::string_view proc_stat);

/// Samples the host's CPUs (every process, every core) and reports the busy
/// fraction between samples. Thread-safe. Feeds the scaler's check that does
/// not add executors to saturated cores.
class host_cpu_sampler {
public:
  /// Takes the first sample now.
  explicit host_cpu_sampler(std::filesystem::path stat_file = "/proc/stat");

  /// Busy fraction in [0, 1] since the previous call (or construction);
  /// nothing when the file cannot be read or no tick passed in between.
  std::optional<double> utilization();

private:
  std::optional<host_cpu_ticks> read() const;

  std::filesystem::path stat_file_;
  std::mutex mtx_;
  std::optional<host_cpu_ticks> last_;
};

} // namespace tasker::observability
