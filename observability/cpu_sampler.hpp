#pragma once
/// CPU use of this process per core, from /proc/self/stat deltas over time.

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

} // namespace tasker::observability
