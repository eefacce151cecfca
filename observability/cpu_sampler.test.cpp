#include "observability/cpu_sampler.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

using namespace tasker::observability;

TEST_CASE("cpu ticks are utime plus stime even when the command name holds spaces and parens") {
  auto stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 "
              "250 75 0 0 20 0 3 0 12345 100000 500 18446744073709551615";
  auto ticks = parse_cpu_ticks(stat);
  REQUIRE(ticks);
  CHECK(*ticks == 325);
}

TEST_CASE("stat text without its cpu fields gives no ticks") {
  CHECK_FALSE(parse_cpu_ticks("no parenthesis here"));
  CHECK_FALSE(parse_cpu_ticks("1 (x) S 1 2 3"));
  CHECK_FALSE(parse_cpu_ticks("1 (x) S 1 2 3 4 5 6 7 8 9 10 abc 5"));
}

TEST_CASE("cpu per core divides by wall time and cores and stays within zero and one") {
  CHECK(cpu_per_core(1.0, 2.0, 1) == doctest::Approx(0.5));
  CHECK(cpu_per_core(1.0, 1.0, 4) == doctest::Approx(0.25));
  CHECK(cpu_per_core(8.0, 1.0, 2) == doctest::Approx(1.0));
  CHECK(cpu_per_core(1.0, 0.0, 2) == 0.0);
  CHECK(cpu_per_core(1.0, 1.0, 0) == 0.0);
}

TEST_CASE("the sampler sees the cpu time of a spinning thread") {
  cpu_sampler sampler{1, "/proc/self/stat", std::chrono::milliseconds{100}};
  std::atomic<bool> spin{true};
  std::thread burner{[&] {
    volatile std::uint64_t x = 0;
    while (spin)
      x = x + 1;
  }};
  std::this_thread::sleep_for(std::chrono::milliseconds{800});
  auto busy = sampler.utilization();
  spin = false;
  burner.join();
  CHECK(busy > 0.02);
  CHECK(busy <= 1.0);
}

TEST_CASE("a stat file that cannot be read reports no utilization") {
  cpu_sampler sampler{2, "/nonexistent/stat", std::chrono::milliseconds{0}};
  CHECK(sampler.utilization() == 0.0);
  CHECK(sampler.cores() == 2);
}

TEST_CASE("resident memory is the second statm field times the page size") {
  CHECK(tasker::observability::parse_resident_bytes("2500 300 120 10 0 900 0\n", 4096) ==
        std::optional<std::uint64_t>{300u * 4096u});
  CHECK_FALSE(tasker::observability::parse_resident_bytes("", 4096));
  CHECK_FALSE(tasker::observability::parse_resident_bytes("2500 x", 4096));
  // This process is running, so it has resident pages.
  CHECK(tasker::observability::resident_memory_bytes() > 0);
}

TEST_CASE("host cpu ticks come from the aggregate cpu line, and idle and iowait are not busy") {
  auto ticks = parse_host_cpu_ticks("cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 50 2 25 400 20 1 1 0 0 0\n");
  REQUIRE(ticks);
  CHECK(ticks->total == 1000);
  CHECK(ticks->busy == 160);
  CHECK_FALSE(parse_host_cpu_ticks("cpu0 1 2 3 4 5 6 7 8"));
  CHECK_FALSE(parse_host_cpu_ticks("cpu  1 2 3"));
  CHECK_FALSE(parse_host_cpu_ticks("cpu  1 2 x 4 5 6 7 8"));
}

TEST_CASE("the host sampler reports the busy share of the ticks between two samples") {
  auto file = std::filesystem::temp_directory_path()
              / ("tasker_host_stat_" + std::to_string(::getpid()));
  auto write = [&](const char* text) { std::ofstream{file} << text; };
  write("cpu  100 0 100 800 0 0 0 0 0 0\n");
  host_cpu_sampler sampler{file};
  CHECK_FALSE(sampler.utilization()); // no tick passed
  write("cpu  190 0 100 810 0 0 0 0 0 0\n"); // 90 busy of 100
  auto busy = sampler.utilization();
  REQUIRE(busy);
  CHECK(*busy == doctest::Approx(0.9));
  write("cpu  200 0 100 900 0 0 0 0 0 0\n"); // 10 busy of 100
  CHECK(*sampler.utilization() == doctest::Approx(0.1));
  std::filesystem::remove(file);
  CHECK_FALSE(sampler.utilization());
  host_cpu_sampler real;
  std::this_thread::sleep_for(std::chrono::milliseconds{50});
  if (auto u = real.utilization()) {
    CHECK(*u >= 0.0);
    CHECK(*u <= 1.0);
  }
}
