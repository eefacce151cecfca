#include "observability/cpu_sampler.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <string>

namespace tasker::observability {

std::optional<std::uint64_t> parse_cpu_ticks(std::string_view proc_stat) {
  auto close = proc_stat.rfind(')');
  if (close == std::string_view::npos)
    return std::nullopt;
  // After "pid (comm)" the fields continue at field 3 (state); utime and
  // stime are fields 14 and 15.
  auto rest = proc_stat.substr(close + 1);
  std::uint64_t sum = 0;
  int field = 2;
  std::size_t pos = 0;
  int found = 0;
  while (pos < rest.size() && found < 2) {
    while (pos < rest.size() && rest[pos] == ' ')
      ++pos;
    auto end = rest.find(' ', pos);
    if (end == std::string_view::npos)
      end = rest.size();
    ++field;
    if (field == 14 || field == 15) {
      std::uint64_t value = 0;
      auto token = rest.substr(pos, end - pos);
      auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
      if (ec != std::errc{} || ptr != token.data() + token.size() || token.empty())
        return std::nullopt;
      sum += value;
      ++found;
    }
    pos = end;
  }
  if (found < 2)
    return std::nullopt;
  return sum;
}

std::optional<std::uint64_t> parse_resident_bytes(std::string_view proc_statm,
                                                  std::uint64_t page_size) {
  // "size resident shared text lib data dt": skip the first number.
  auto first_end = proc_statm.find(' ');
  if (first_end == std::string_view::npos)
    return std::nullopt;
  auto rest = proc_statm.substr(first_end + 1);
  std::uint64_t pages = 0;
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), pages);
  if (ec != std::errc{} || ptr == rest.data())
    return std::nullopt;
  return pages * page_size;
}

std::uint64_t resident_memory_bytes() {
  std::ifstream in{"/proc/self/statm"};
  std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  auto page = ::sysconf(_SC_PAGESIZE);
  auto bytes = parse_resident_bytes(text, page > 0 ? static_cast<std::uint64_t>(page) : 4096);
  return bytes ? *bytes : 0;
}

double cpu_per_core(double cpu_seconds, double wall_seconds, unsigned cores) {
  if (wall_seconds <= 0.0 || cores == 0 || cpu_seconds < 0.0)
    return 0.0;
  return std::clamp(cpu_seconds / wall_seconds / cores, 0.0, 1.0);
}

cpu_sampler::cpu_sampler(unsigned cores, std::filesystem::path stat_file,
                         std::chrono::milliseconds min_interval)
    : cores_(std::max(cores, 1u)), stat_file_(std::move(stat_file)), min_interval_(min_interval),
      seconds_per_tick_(1.0 / static_cast<double>(std::max(sysconf(_SC_CLK_TCK), 1L))) {
  last_ticks_ = read_ticks();
  last_at_ = std::chrono::steady_clock::now();
}

std::optional<std::uint64_t> cpu_sampler::read_ticks() const {
  std::ifstream in{stat_file_};
  if (!in)
    return std::nullopt;
  std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  return parse_cpu_ticks(text);
}

double cpu_sampler::utilization() {
  std::lock_guard<std::mutex> guard{mtx_};
  auto now = std::chrono::steady_clock::now();
  if (now - last_at_ < min_interval_)
    return last_value_;
  auto ticks = read_ticks();
  if (!ticks)
    return last_value_ = 0.0;
  if (last_ticks_ && *ticks >= *last_ticks_) {
    auto cpu = static_cast<double>(*ticks - *last_ticks_) * seconds_per_tick_;
    auto wall = std::chrono::duration<double>(now - last_at_).count();
    last_value_ = cpu_per_core(cpu, wall, cores_);
  }
  last_ticks_ = ticks;
  last_at_ = now;
  return last_value_;
}

std::optional<host_cpu_ticks> parse_host_cpu_ticks(std::string_view proc_stat) {
  // The first line: "cpu  user nice system idle iowait irq softirq steal ...".
  if (proc_stat.substr(0, 4) != "cpu ")
    return std::nullopt;
  auto line = proc_stat.substr(4, proc_stat.find('\n') - 4);
  std::uint64_t fields[8] = {};
  std::size_t pos = 0;
  for (auto& field : fields) {
    while (pos < line.size() && line[pos] == ' ')
      ++pos;
    auto [ptr, ec] = std::from_chars(line.data() + pos, line.data() + line.size(), field);
    if (ec != std::errc{} || ptr == line.data() + pos)
      return std::nullopt;
    pos = static_cast<std::size_t>(ptr - line.data());
  }
  host_cpu_ticks out;
  for (auto field : fields)
    out.total += field;
  out.busy = out.total - fields[3] - fields[4];
  return out;
}

host_cpu_sampler::host_cpu_sampler(std::filesystem::path stat_file)
    : stat_file_(std::move(stat_file)) {
  last_ = read();
}

std::optional<host_cpu_ticks> host_cpu_sampler::read() const {
  std::ifstream in{stat_file_};
  if (!in)
    return std::nullopt;
  std::string line;
  std::getline(in, line);
  return parse_host_cpu_ticks(line);
}

std::optional<double> host_cpu_sampler::utilization() {
  std::lock_guard<std::mutex> guard{mtx_};
  auto now = read();
  if (!now)
    return std::nullopt;
  std::optional<double> out;
  if (last_ && now->total > last_->total && now->busy >= last_->busy)
    out = std::clamp(static_cast<double>(now->busy - last_->busy)
                       / static_cast<double>(now->total - last_->total),
                     0.0, 1.0);
  last_ = now;
  return out;
}

} // namespace tasker::observability
