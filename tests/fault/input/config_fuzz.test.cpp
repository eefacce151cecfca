// Configuration fuzzing: hundreds of seeded mutations of the shipped config/
// tree, each checked by the real `tasker-node config check`. A broken
// configuration must be refused with exit code 2 and a message naming the
// file and the key (or the file and line of a syntax error); nothing may
// crash the loader.
#include "tests/fault/input/config_mutations.hpp"
#include "tests/fault/input/fault_env.hpp"
#include "tools/common/child_process.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <regex>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace tasker;
using namespace tasker::fault;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr unsigned fuzz_seed = 20261126;
const std::string environment = "test";

fs::path source_config() {
  const char* dir = std::getenv("TASKER_SOURCE_DIR");
  return fs::path{dir ? dir : TASKER_INTEGRATION_SOURCE_DIR} / "config";
}

/// What one `config check` run did.
struct run_result {
  int exit_code = -1;
  std::string output;
};

run_result check_config(const fs::path& dir, const fs::path& log) {
  tools::child_process p{
      TASKER_NODE_BIN,
      {"config", "check", "--no-database", "--env", environment, "--config-dir", dir.string()},
      {},
      log.string()};
  run_result r;
  r.exit_code = p.wait(60s);
  r.output = p.output();
  return r;
}

/// Text in `output` that a person cannot act on: internals of the C++ runtime.
std::string unhelpful_text(const std::string& output) {
  for (const char* marker :
       {"what():", "std::", "basic_string", "stoi", "stod", "bad_variant_access",
        "bad_optional_access", "out_of_range", "[json.exception", "toml::", "nullptr"}) {
    if (output.find(marker) != std::string::npos)
      return marker;
  }
  return {};
}

/// True when one line of `output` names `file` and either `key` or a line of it.
bool names_file_and_place(const std::string& output, const mutation& m) {
  std::istringstream in{output};
  std::regex location{std::regex_replace(m.file, std::regex{R"([.^$|()\[\]{}*+?\\])"}, R"(\$&)") +
                      ":[0-9]+:[0-9]+: "};
  // A truncated or emptied file loses keys the mutation did not choose, and
  // the values that take their place come from other files: any line naming
  // a file and a key ("section.key") is specific enough.
  static const std::regex any_key{R"(\.toml.*[a-z_]+\.[a-z_]+|[a-z_]+\.[a-z_]+.*\.toml)"};
  for (std::string line; std::getline(in, line);) {
    if (m.key.empty() && !m.syntax && std::regex_search(line, any_key))
      return true;
    if (line.find(m.file) == std::string::npos)
      continue;
    if (std::regex_search(line, location))
      return true;
    if (!m.key.empty() && !m.syntax && line.find(m.key) != std::string::npos)
      return true;
  }
  return false;
}

struct verdict {
  mutation m;
  run_result r;
  std::string problem; ///< empty when the run met the contract
};

} // namespace

TEST_CASE("mutated configurations are refused with exit 2 naming file and key, never a crash") {
  const int count = long_run() ? 5000 : 500;
  const auto base = read_config_tree(source_config(), environment);
  REQUIRE_MESSAGE(base.count("tasker/queues.toml") == 1,
                  "no shipped config in " << source_config());
  auto work = fs::temp_directory_path() / ("tasker-config-fuzz-" + std::to_string(::getpid()));
  fs::remove_all(work);
  fs::create_directories(work);

  // The unmutated copy is valid, so every refusal below is the mutation's doing.
  write_config_tree(work / "control", base);
  auto control = check_config(work / "control", work / "control.log");
  REQUIRE_MESSAGE(control.exit_code == 0, "the shipped configuration fails:\n" << control.output);

  // Mutations are drawn in order from one seeded generator: the same seed gives
  // the same 500 directories on every machine.
  std::mt19937 rng{fuzz_seed};
  std::vector<std::pair<mutation, config_tree>> cases;
  for (int i = 0; i < count; ++i) {
    auto tree = base;
    auto m = mutate(tree, rng);
    cases.emplace_back(std::move(m), std::move(tree));
  }

  std::vector<verdict> verdicts(cases.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (auto i = next++; i < cases.size(); i = next++) {
      auto dir = work / std::to_string(i);
      write_config_tree(dir, cases[i].second);
      auto& v = verdicts[i];
      v.m = cases[i].first;
      v.r = check_config(dir, work / (std::to_string(i) + ".log"));
      if (v.r.exit_code != 0 && v.r.exit_code != 2)
        v.problem = "exit code " + std::to_string(v.r.exit_code) + " (128+n is signal n)";
      else if (auto c = crash_marker(v.r.output); !c.empty())
        v.problem = "crash marker \"" + c + "\"";
      else if (auto u = unhelpful_text(v.r.output); !u.empty())
        v.problem = "unhelpful message (\"" + u + "\")";
      else if (v.r.exit_code == 0 && !v.m.may_stay_valid)
        v.problem = "accepted although the mutation breaks the configuration";
      else if (v.r.exit_code == 2 && !names_file_and_place(v.r.output, v.m))
        v.problem = "the message names neither " + v.m.file + " with " +
                    (v.m.key.empty() || v.m.syntax ? std::string{"a line"} : v.m.key) +
                    " nor a line of it";
      if (v.problem.empty())
        fs::remove_all(dir); // failing cases stay on disk for a look
      fs::remove(work / (std::to_string(i) + ".log"));
    }
  };
  const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 2u, 4u);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back(worker);
  for (auto& t : pool)
    t.join();

  std::map<std::string, std::pair<int, int>> by_kind; // kind -> (runs, exit 0)
  int valid = 0;
  int failures = 0;
  for (std::size_t i = 0; i < verdicts.size(); ++i) {
    const auto& v = verdicts[i];
    auto& [runs, zero] = by_kind[v.m.kind];
    ++runs;
    if (v.r.exit_code == 0) {
      ++zero;
      ++valid;
    }
    if (!v.problem.empty() && ++failures <= 25)
      FAIL_CHECK("mutation " << i << " (" << v.m.kind << ": " << v.m.description
                             << "): " << v.problem << "\n  kept in " << (work / std::to_string(i))
                             << "\n  output:\n"
                             << v.r.output.substr(0, 2000));
  }
  std::ostringstream summary;
  for (const auto& [kind, rz] : by_kind)
    summary << "  " << kind << ": " << rz.first << " runs, " << rz.second << " stayed valid\n";
  MESSAGE("config fuzz, seed " << fuzz_seed << ", " << count << " mutations, " << valid
                               << " stayed valid:\n"
                               << summary.str());
  CHECK(failures == 0);
  // Most mutations must break the configuration, or the fuzzing proves little.
  CHECK(valid * 10 < count);
  CHECK(by_kind.size() >= 15);
  if (failures == 0)
    fs::remove_all(work);
}
