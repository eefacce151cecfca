#include "messaging/task_template.hpp"
#include "tests/support/source_tree.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

using namespace tasker::messaging;
using strings = std::vector<std::string>;

namespace {

std::filesystem::path example(const char* file) {
  return tasker::testing::source_dir() / "examples" / "templates" / file;
}

// The template_error message thrown by `f`; fails the test if none is thrown.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const template_error& e) {
    return e.what();
  }
  FAIL("expected a template_error");
  return {};
}

std::string parse_error(const std::string& toml) {
  return error_of([&] { parse_template_toml(toml, "test.toml"); });
}

step_template make_step(std::string name, strings depends_on = {}) {
  step_template s;
  s.name = std::move(name);
  s.handler = "noop";
  s.depends_on = std::move(depends_on);
  return s;
}

task_template make_template(std::string name, std::vector<step_template> steps) {
  task_template t;
  t.namespace_name = "tests";
  t.name = std::move(name);
  t.version = "1";
  t.steps = std::move(steps);
  return t;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const std::string header = R"(namespace = "tests"
name = "sample"
version = "1"
)";

std::string with_steps(const std::string& steps) {
  return header + steps;
}

} // namespace

TEST_CASE("the linear example loads and runs its steps in chain order") {
  auto t = load_template_file(example("linear.toml"));
  CHECK(t.namespace_name == "examples");
  CHECK(t.name == "linear_pipeline");
  CHECK(t.version == "1.0.0");
  REQUIRE(t.steps.size() == 4);
  CHECK(t.steps[0].backoff == backoff_policy{500, 30000, 0.1});
  CHECK(t.steps[1].inputs["fields"] == nlohmann::json{"id", "amount", "currency"});
  CHECK_FALSE(t.steps[3].retryable);
  CHECK(topological_order(t) == strings{"fetch", "transform", "load", "notify"});
}

TEST_CASE("the diamond example puts start first, join last and branches in declaration order") {
  auto t = load_template_file(example("diamond.toml"));
  CHECK(t.name == "diamond_workflow");
  CHECK(t.steps[3].depends_on == strings{"left", "right"});
  CHECK(t.steps[3].backoff.jitter == 0.0);
  CHECK(topological_order(t) == strings{"start", "left", "right", "join"});
}

TEST_CASE("keys left out of a step take the documented defaults") {
  auto t = parse_template_toml(with_steps("[[steps]]\nname = \"only\"\nhandler = \"noop\"\n"),
                               "test.toml");
  REQUIRE(t.steps.size() == 1);
  const auto& s = t.steps[0];
  CHECK(t.description.empty());
  CHECK(s.depends_on.empty());
  CHECK(s.retryable);
  CHECK(s.retry_limit == 3);
  CHECK(s.timeout_seconds == 300);
  CHECK(s.backoff == backoff_policy{});
  CHECK(s.inputs == nlohmann::json::object());
}

TEST_CASE("a template survives to_json and from_json unchanged, also through JSON text") {
  for (const char* file : {"linear.toml", "diamond.toml"}) {
    auto t = load_template_file(example(file));
    auto j = t.to_json();
    CHECK(task_template::from_json(j) == t);
    CHECK(task_template::from_json(nlohmann::json::parse(j.dump())) == t);
    CHECK(j["steps"][0]["backoff"]["max_ms"].is_number_integer());
  }
}

TEST_CASE("nested inputs and dates become JSON values") {
  auto t = parse_template_toml(with_steps(R"([[steps]]
name = "s"
handler = "noop"
inputs = { when = 2026-01-31T12:00:00Z, day = 1979-05-27, n = 7, ratio = 0.5, on = true, list = [1, "a"], sub = { k = "v" } }
)"),
                               "test.toml");
  const auto& in = t.steps[0].inputs;
  CHECK(in["when"] == "2026-01-31T12:00:00Z");
  CHECK(in["day"] == "1979-05-27");
  CHECK(in["n"] == 7);
  CHECK(in["ratio"] == 0.5);
  CHECK(in["on"] == true);
  CHECK(in["list"] == nlohmann::json{1, "a"});
  CHECK(in["sub"]["k"] == "v");
  CHECK(task_template::from_json(t.to_json()) == t);
}

TEST_CASE("topological order breaks ties by declaration order, not by name") {
  auto t = make_template("ties", {make_step("zeta", {"first_child"}), make_step("alpha"),
                                  make_step("mid"), make_step("first_child", {"mid"})});
  validate_template(t);
  CHECK(topological_order(t) == strings{"alpha", "mid", "first_child", "zeta"});
}

TEST_CASE("a dependency cycle is rejected and the error names every step in it") {
  auto msg = parse_error(with_steps(R"([[steps]]
name = "root"
handler = "noop"
[[steps]]
name = "a"
handler = "noop"
depends_on = ["root", "c"]
[[steps]]
name = "b"
handler = "noop"
depends_on = ["a"]
[[steps]]
name = "c"
handler = "noop"
depends_on = ["b"]
)"));
  CHECK(contains(msg, "test.toml: steps[1].depends_on: dependency cycle: a -> c -> b -> a"));
  CHECK_FALSE(contains(msg, "root"));
}

TEST_CASE("topological_order refuses a cyclic template built in code") {
  auto t = make_template("loop", {make_step("x", {"y"}), make_step("y", {"x"})});
  auto msg = error_of([&] { topological_order(t); });
  CHECK(contains(msg, "tests/loop@1: steps[0].depends_on: dependency cycle: x -> y -> x"));
}

TEST_CASE("an unknown dependency is rejected naming the source, the step key and the typo") {
  auto msg = parse_error(with_steps(R"([[steps]]
name = "transform"
handler = "noop"
[[steps]]
name = "load"
handler = "noop"
depends_on = ["transfrom"]
)"));
  CHECK(msg == "test.toml: steps[1].depends_on: unknown step 'transfrom'");
}

TEST_CASE("a step that depends on itself is rejected") {
  auto msg = parse_error(
      with_steps("[[steps]]\nname = \"s\"\nhandler = \"noop\"\ndepends_on = [\"s\"]\n"));
  CHECK(contains(msg, "steps[0].depends_on: step 's' depends on itself"));
}

TEST_CASE("a duplicate step name is rejected pointing at both declarations") {
  auto msg = parse_error(with_steps(R"([[steps]]
name = "s"
handler = "noop"
[[steps]]
name = "s"
handler = "sleep"
)"));
  CHECK(contains(msg, "test.toml: steps[1].name: duplicate step name 's'"));
  CHECK(contains(msg, "steps[0]"));
}

TEST_CASE("a misspelt key is rejected instead of falling back to a default") {
  auto msg =
      parse_error(with_steps("[[steps]]\nname = \"s\"\nhandler = \"noop\"\nretry_limt = 5\n"));
  CHECK(contains(msg, "test.toml: steps[0].retry_limt: unknown key"));
  CHECK(contains(msg, "retry_limit"));
  CHECK(contains(msg, "(line 7)"));
  CHECK(contains(parse_error(header + "[[steps]]\nname = \"s\"\nhandler = \"noop\"\n"
                                      "backoff = { base = 5 }\n"),
                 "steps[0].backoff.base: unknown key"));
  CHECK(contains(parse_error("namespaec = \"x\"\n" + header.substr(header.find('\n') + 1)),
                 "test.toml: namespaec: unknown key"));
}

TEST_CASE("a value of the wrong type is rejected naming the key and both types") {
  CHECK(contains(
      parse_error(with_steps("[[steps]]\nname = \"s\"\nhandler = \"noop\"\nretry_limit = \"3\"\n")),
      "test.toml: steps[0].retry_limit: expected integer, got string"));
  CHECK(contains(
      parse_error(with_steps("[[steps]]\nname = \"s\"\nhandler = \"noop\"\ndepends_on = \"a\"\n")),
      "steps[0].depends_on: expected array, got string"));
  CHECK(
      contains(parse_error(with_steps("[[steps]]\nname = \"s\"\nhandler = \"noop\"\ninputs = 4\n")),
               "steps[0].inputs: expected table, got integer"));
  CHECK(contains(parse_error("namespace = \"tests\"\nname = \"x\"\nversion = 1\n"),
                 "test.toml: version: expected string, got integer"));
}

TEST_CASE("a namespace that is not a safe SQL identifier is rejected") {
  const std::string rest = "name = \"x\"\nversion = \"1\"\n[[steps]]\nname = \"s\"\n"
                           "handler = \"noop\"\n";
  for (std::string ns : {std::string{"a; DROP TABLE x"}, std::string{"it's"},
                         std::string{"quo\\\"ted"}, std::string(200, 'a'), std::string{"Caps"}}) {
    CAPTURE(ns);
    auto msg = parse_error("namespace = \"" + ns + "\"\n" + rest);
    CHECK(contains(msg, "test.toml: namespace: invalid namespace"));
    CHECK(contains(msg, "^[a-z][a-z0-9_]{0,47}$"));
  }
}

TEST_CASE("a template without steps or a required key is rejected") {
  CHECK(contains(parse_error(header), "test.toml: steps: required key is missing"));
  CHECK(contains(parse_error(header + "steps = []\n"),
                 "test.toml: steps: at least one step is required"));
  CHECK(contains(parse_error(with_steps("[[steps]]\nname = \"s\"\n")),
                 "test.toml: steps[0].handler: required key is missing"));
  CHECK(contains(parse_error("namespace = \"tests\"\nname = \"x\"\n"),
                 "test.toml: version: required key is missing"));
}

TEST_CASE("numbers outside their documented ranges are rejected") {
  auto step = [](const std::string& extra) {
    return parse_error(with_steps("[[steps]]\nname = \"s\"\nhandler = \"noop\"\n" + extra));
  };
  CHECK(contains(step("retry_limit = 101\n"), "steps[0].retry_limit: must be in 1..100"));
  CHECK(contains(step("retry_limit = -1\n"), "steps[0].retry_limit: must be in 1..100"));
  CHECK(contains(step("retry_limit = 0\n"), "steps[0].retry_limit: must be in 1..100"));
  CHECK(contains(step("timeout_seconds = 0\n"), "steps[0].timeout_seconds: must be greater"));
  CHECK(contains(step("timeout_seconds = 9999999999\n"), "does not fit in 32 bits"));
  CHECK(contains(step("backoff = { base_ms = 0 }\n"), "steps[0].backoff.base_ms: must be at"));
  CHECK(contains(step("backoff = { base_ms = 500, max_ms = 100 }\n"),
                 "steps[0].backoff.max_ms: must be at least base_ms (500)"));
  CHECK(contains(step("backoff = { jitter = 1.5 }\n"), "steps[0].backoff.jitter: must be in 0..1"));
  CHECK(contains(step("backoff = { jitter = nan }\n"), "steps[0].backoff.jitter"));
}

TEST_CASE("names, versions and handlers must follow their rules") {
  CHECK(contains(parse_error(with_steps("[[steps]]\nname = \"Bad-Name\"\nhandler = \"noop\"\n")),
                 "steps[0].name: invalid step name 'Bad-Name'"));
  CHECK(contains(parse_error(with_steps("[[steps]]\nname = \"s\"\nhandler = \"\"\n")),
                 "steps[0].handler: invalid handler ''"));
  const std::string step = "[[steps]]\nname = \"s\"\nhandler = \"noop\"\n";
  CHECK(contains(parse_error("namespace = \"tests\"\nname = \"x y\"\nversion = \"1\"\n" + step),
                 "test.toml: name: invalid template name 'x y'"));
  CHECK(contains(parse_error("namespace = \"tests\"\nname = \"x\"\nversion = \"\"\n" + step),
                 "test.toml: version: invalid version ''"));
  CHECK(contains(parse_error("namespace = \"tests\"\nname = \"x\"\nversion = \"1 0\"\n" + step),
                 "test.toml: version: invalid version '1 0'"));
}

TEST_CASE("TOML syntax errors and unreadable files name the source") {
  auto msg = parse_error(header + "[[steps]\n");
  CHECK(contains(msg, "test.toml: TOML syntax error at line 4"));
  auto missing = example("no_such_template.toml");
  auto file_msg = error_of([&] { load_template_file(missing); });
  CHECK(contains(file_msg, missing.string() + ": cannot open the file"));
}

TEST_CASE("from_json rejects a stored template with a missing, unknown or ill-typed key") {
  auto j = load_template_file(example("diamond.toml")).to_json();
  auto without_version = j;
  without_version.erase("version");
  CHECK(contains(error_of([&] { task_template::from_json(without_version); }),
                 "template JSON: version: required key is missing"));
  auto typo = j;
  typo["steps"][1]["retry_limt"] = 4;
  CHECK(contains(error_of([&] { task_template::from_json(typo); }),
                 "template JSON: steps[1].retry_limt: unknown key"));
  auto ill_typed = j;
  ill_typed["steps"][2]["timeout_seconds"] = "60";
  CHECK(contains(error_of([&] { task_template::from_json(ill_typed); }),
                 "template JSON: steps[2].timeout_seconds: expected integer, got string"));
  auto cyclic = j;
  cyclic["steps"][0]["depends_on"] = {"join"};
  CHECK(contains(error_of([&] { task_template::from_json(cyclic); }), "dependency cycle"));
  CHECK(contains(error_of([] { task_template::from_json(nlohmann::json::array()); }),
                 "expected an object"));
}

TEST_CASE("validate_template without a source names the template itself") {
  auto t = make_template("named", {make_step("s")});
  t.version = "2.0";
  t.steps[0].retry_limit = 500;
  auto msg = error_of([&] { validate_template(t); });
  CHECK(contains(msg, "tests/named@2.0: steps[0].retry_limit: must be in 1..100"));
}
