#include "config/schema.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace tasker::config;

TEST_CASE("every key maps to one environment variable and back") {
  std::set<std::string> names;
  for (const auto& f : fields()) {
    auto name = env_name(f.path);
    CHECK(names.insert(name).second);
    CHECK(path_from_env_name(name) == f.path);
  }
  CHECK(env_name("executor_pools.task_claimer.max_executors") ==
        "TASKER_EXECUTOR_POOLS__TASK_CLAIMER__MAX_EXECUTORS");
  CHECK_FALSE(path_from_env_name("TASKER_DATABASE_URL").has_value());
  CHECK_FALSE(path_from_env_name("PATH").has_value());
}

TEST_CASE("every executor type round-trips through its name and has a pool schema") {
  for (auto type : all_executor_types) {
    CHECK(executor_type_from_string(to_string(type)) == type);
    CHECK(find_field("executor_pools." + std::string{to_string(type)} + ".max_executors") !=
          nullptr);
  }
  CHECK_FALSE(executor_type_from_string("task_cleaner").has_value());
  CHECK(is_section("executor_pools.task_claimer"));
  CHECK_FALSE(is_section("executor_pools.task_cleaner"));
}
