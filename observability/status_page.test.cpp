#include "observability/status_page.hpp"
#include "observability/live_node.test.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

using namespace tasker::testing;

namespace {

constexpr const char* chromium = "/usr/bin/chromium";

bool have_chromium() {
  return std::filesystem::exists(chromium);
}

// Runs headless Chromium against `url` and returns the DOM after the page's
// script has run for (virtual) five seconds.
std::string dump_dom(const std::string& url) {
  auto profile =
      std::filesystem::temp_directory_path() / ("tasker-chromium-" + std::to_string(::getpid()));
  std::filesystem::create_directories(profile);
  std::string cmd = std::string{"timeout 120 "} + chromium +
                    " --headless --no-sandbox --disable-gpu --disable-background-networking"
                    " --disable-component-update --disable-sync --no-first-run"
                    " --user-data-dir=" +
                    profile.string() + " --virtual-time-budget=5000 --dump-dom " + url +
                    " 2>/dev/null";
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe{::popen(cmd.c_str(), "r"), ::pclose};
  REQUIRE(pipe);
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, pipe.get()))
    out.append(buf, n);
  pipe.reset();
  std::filesystem::remove_all(profile);
  return out;
}

} // namespace

TEST_CASE("the status page renders the pools in headless chromium" *
          doctest::skip(!have_chromium()) *
          doctest::description("skipped when /usr/bin/chromium (Debian package chromium) "
                               "is absent")) {
  live_node node{{{"task_claimer", 2}, {"step_enqueuer", 1}}, false};
  auto dom = dump_dom("http://127.0.0.1:" + std::to_string(node.server().port()) + "/");
  INFO("dumped DOM: " << dom.substr(0, 2000));
  CHECK(dom.find("data-pool=\"task_claimer\"") != std::string::npos);
  CHECK(dom.find("data-pool=\"step_enqueuer\"") != std::string::npos);
  CHECK(dom.find("<td>task_claimer</td><td>2</td>") != std::string::npos);
  // Probe executors never heartbeat, so the page shows the degraded status.
  CHECK(dom.find("class=\"badge degraded\"") != std::string::npos);
  CHECK(dom.find("<div id=\"error\"></div>") != std::string::npos); // every poll succeeded
}
