#include "tools/taskerctl/ctl_test_support.hpp"

#include <fstream>

using namespace tasker::tools::ctl;
using namespace tasker::tools::ctl::test;

TEST_CASE_FIXTURE(ctl_fixture,
                  "both examples register, then list and show for people and scripts") {
  auto reg = run([&](auto& o, auto& e) {
    return template_register(ctx, {example("linear.toml"), example("diamond.toml")}, o, e);
  });
  REQUIRE_MESSAGE(reg.code == 0, reg.err);
  CHECK(contains(reg.out,
                 "registered examples/linear_pipeline@1.0.0 (4 steps, queue examples_queue)"));
  CHECK(contains(reg.out, "registered examples/diamond_workflow@1.0.0"));

  auto list = run([&](auto& o, auto& e) { return template_list(ctx, o, e); });
  CHECK(list.code == 0);
  CHECK(contains(list.out, "NAMESPACE  NAME"));
  CHECK(contains(list.out, "linear_pipeline"));

  auto listed = run([&](auto& o, auto& e) { return template_list(json(), o, e); }).json();
  REQUIRE(listed.size() == 2);
  CHECK(listed[0]["name"] == "diamond_workflow");
  CHECK(listed[0]["steps"] == 4);

  auto show =
      run([&](auto& o, auto& e) { return template_show(ctx, "examples/diamond_workflow", o, e); });
  CHECK(show.code == 0);
  CHECK(contains(show.out, "join"));
  CHECK(contains(show.out, "left,right"));
  CHECK(contains(show.out, "250..5000"));

  auto doc = run([&](auto& o, auto& e) {
               return template_show(json(), "examples/linear_pipeline@1.0.0", o, e);
             }).json();
  CHECK(doc["name"] == "linear_pipeline");
  CHECK(doc["steps"].size() == 4);

  auto queues = run([&](auto& o, auto& e) { return queue_stats(json(), o, e); }).json();
  REQUIRE(queues.size() == 1);
  CHECK(queues[0]["queue"] == "examples_queue");
}

TEST_CASE_FIXTURE(ctl_fixture, "registering a template twice reports it unchanged") {
  auto reg = [&](const ctl_context& c) {
    return run(
        [&](auto& o, auto& e) { return template_register(c, {example("diamond.toml")}, o, e); });
  };
  REQUIRE(reg(ctx).code == 0);
  auto again = reg(ctx);
  CHECK(again.code == 0);
  CHECK(contains(again.out, "unchanged examples/diamond_workflow@1.0.0"));
  CHECK(reg(json()).json()[0]["status"] == "unchanged");
}

TEST_CASE_FIXTURE(ctl_fixture,
                  "an invalid template file fails naming the file and key and registers nothing") {
  auto dir = std::filesystem::temp_directory_path() / ("ctl_bad_" + db.name());
  std::filesystem::create_directories(dir);
  auto bad = dir / "bad.toml";
  std::ofstream{bad} << "namespace = \"examples\"\nname = \"broken\"\nversion = \"1\"\n"
                        "[[steps]]\nname = \"a\"\nhandler = \"noop\"\nretry_limit = \"many\"\n";
  auto r = run([&](auto& o, auto& e) {
    return template_register(ctx, {example("diamond.toml"), bad}, o, e);
  });
  std::filesystem::remove_all(dir);
  CHECK(r.code == 2);
  CHECK(contains(r.err, bad.string()));
  CHECK(contains(r.err, "steps[0].retry_limit"));
  auto listed = run([&](auto& o, auto& e) { return template_list(json(), o, e); }).json();
  CHECK(listed.empty());
}

TEST_CASE_FIXTURE(ctl_fixture, "showing a template that is not registered fails naming it") {
  auto r = run([&](auto& o, auto& e) { return template_show(ctx, "examples/nothing@2", o, e); });
  CHECK(r.code == 1);
  CHECK(contains(r.err, "template examples/nothing@2 is not registered"));
  auto bad = run([&](auto& o, auto& e) { return template_show(ctx, "no-slash", o, e); });
  CHECK(bad.code == 2);
  CHECK(contains(bad.err, "NAMESPACE/NAME"));
}

TEST_CASE("a command without a database URL says where to set one") {
  ctl_context ctx;
  std::ostringstream out, err;
  CHECK(template_list(ctx, out, err) == 2);
  CHECK(contains(err.str(), "TASKER_DATABASE_URL"));
}
