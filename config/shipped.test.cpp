#include "config/layers.hpp"
#include "config/loader.hpp"
#include "config/test_files.hpp"
#include "resources/budget.hpp"

#include <doctest/doctest.h>

using namespace tasker::config;

namespace {

loaded_config load_shipped(const std::string& environment) {
  load_options o;
  o.config_dir = testing::shipped_config_dir();
  o.environment = environment;
  o.variables = env_map{};
  return load_config(o);
}

} // namespace

TEST_CASE("every shipped environment validates and fits its executor budget") {
  for (const char* env : {"test", "development", "production"}) {
    CAPTURE(env);
    loaded_config loaded;
    REQUIRE_NOTHROW(loaded = load_shipped(env));
    CHECK(loaded.warnings.empty());
    auto budget = tasker::resources::calculate_budget(loaded.config);
    CHECK(budget.ok());
    CHECK(budget.warnings.empty());
  }
}

TEST_CASE("the shipped base files hold exactly the built-in defaults") {
  // Base files only, no environment: what a file omits and what it says must agree.
  std::vector<std::string> errors;
  layered_table layers;
  auto root = testing::shipped_config_dir();
  for (const auto& dir : {root / "tasker", root / "shared"})
    for (const auto& file : toml_files_in(dir))
      merge_layer(layers, read_toml_file(file, errors), file.string());
  tasker_config from_files;
  from_files.database.url = "changed so the file must reset it";
  auto decode_errors = decode(layers, from_files, [](std::string_view) { return true; });
  CHECK(errors.empty());
  CHECK(decode_errors.empty());
  CHECK(from_files == tasker_config{});
  CHECK(tasker_config{}.total_max_executors() <= 25 - 5);
}

TEST_CASE("production is conservative: target utilization 0.70 and a 120 second cooldown") {
  auto prod = load_shipped("production").config;
  CHECK(prod.coordinator.target_utilization == doctest::Approx(0.70));
  CHECK(prod.coordinator.scaling_cooldown_seconds == 120);
  CHECK(prod.total_max_executors() > tasker_config{}.total_max_executors());
  auto test = load_shipped("test").config;
  CHECK(test.database.pool.max_connections < prod.database.pool.max_connections);
  CHECK(test.total_max_executors() == 5);
}
