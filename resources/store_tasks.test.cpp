#include "resources/store_test_support.hpp"
#include "tests/support/scratch_db.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <set>

using namespace tasker;
using namespace tasker::resources;

namespace {

std::string message_of(const std::function<void()>& fn, store_errc expected) {
  try {
    fn();
  } catch (const store_error& e) {
    CHECK(e.code() == expected);
    return e.what();
  }
  FAIL("expected a store_error");
  return {};
}

int count_rows(pqxx::transaction_base& tx, const std::string& table) {
  return tx.exec1("SELECT count(*) FROM " + tx.quote_name(table))[0].as<int>();
}

} // namespace

TEST_CASE("registering a template twice is a no-op and new content under its version is refused") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto tmpl = test::diamond_template();
  auto first = register_template(tx, tmpl);
  auto again = register_template(tx, tmpl);
  CHECK(first.created);
  CHECK_FALSE(again.created);
  CHECK(again.named_task_uuid == first.named_task_uuid);
  CHECK(count_rows(tx, "named_steps") == 4);
  auto positions = tx.exec("SELECT name FROM named_steps ORDER BY position");
  REQUIRE(positions.size() == 4);
  CHECK(positions[0][0].as<std::string>() == "a");
  CHECK(positions[3][0].as<std::string>() == "d");

  auto changed = tmpl;
  changed.steps[0].handler = "other";
  auto text = message_of(
      [&] {
        test::savepoint sp{tx};
        register_template(tx, changed);
      },
      store_errc::template_conflict);
  CHECK(text.find("shop/diamond@1.0.0") != std::string::npos);

  changed.version = "1.1.0";
  CHECK(register_template(tx, changed).created);
  CHECK(count_rows(tx, "named_tasks") == 2);
  CHECK(count_rows(tx, "namespaces") == 1);
}

TEST_CASE("a new task gets the template's steps, edges and one pending transition each") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto task = test::make_task(tx, test::diamond_template(), {{"order", 7}});
  CHECK(current_task_state(tx, task) == task_state::pending);
  auto ids = test::step_ids(tx, task);
  CHECK(ids.size() == 4);
  auto edges = tx.exec_params("SELECT p.name, c.name FROM workflow_step_edges e"
                              " JOIN workflow_steps p ON p.workflow_step_uuid = e.from_step_uuid"
                              " JOIN workflow_steps c ON c.workflow_step_uuid = e.to_step_uuid"
                              " WHERE e.task_uuid = $1 ORDER BY 1, 2",
                              task);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& row : edges)
    got.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
  CHECK(got == std::vector<std::pair<std::string, std::string>>{
                   {"a", "b"}, {"a", "c"}, {"b", "d"}, {"c", "d"}});
  auto history = step_transition_history(tx, task);
  CHECK(history.size() == 4);
  for (const auto& h : history) {
    CHECK_FALSE(h.from.has_value());
    CHECK(h.to == "pending");
    CHECK(h.most_recent);
  }
}

TEST_CASE("new tasks and steps get time-ordered keys, and history rows are keyed by owner") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto first = test::make_task(tx, test::diamond_template(), {{"order", 1}});
  tx.exec("SELECT pg_sleep(0.005)");
  auto second = test::make_task(tx, test::diamond_template(), {{"order", 2}});
  // UUID version 7: the version digit is 7, the first 48 bits are Unix milliseconds.
  auto keys = tx.exec_params(
    "SELECT k::text, abs(('x' || lpad(replace(left(k::text, 13), '-', ''), 16, '0'))::bit(64)::bigint"
    " - (extract(epoch FROM clock_timestamp()) * 1000)::bigint)"
    " FROM (SELECT task_uuid AS k FROM tasks UNION ALL SELECT workflow_step_uuid FROM workflow_steps"
    "       WHERE task_uuid IN ($1, $2)) x",
    first, second);
  REQUIRE(keys.size() == 10);
  for (const auto& row : keys) {
    INFO(row[0].c_str());
    CHECK(row[0].as<std::string>()[14] == '7');
    CHECK(row[1].as<long long>() < 60'000);
  }
  CHECK(first < second); // five milliseconds apart, in creation order
  // The history's primary key is (owner, sort_key): no second key per row.
  for (const char* table : {"task_transitions", "workflow_step_transitions"}) {
    INFO(table);
    CHECK(tx.exec_params1("SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass",
                          std::string{table})[0].as<int>() == 2);
    CHECK(tx.exec_params1("SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM pg_index i"
                          " CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(att, n)"
                          " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.att"
                          " WHERE i.indrelid = $1::regclass AND i.indisprimary",
                          std::string{table})[0].as<std::string>()
          == (std::string{table} == "task_transitions" ? "task_uuid,sort_key"
                                                       : "workflow_step_uuid,sort_key"));
  }
}

TEST_CASE("a request carrying its queue message creates the same task and step uuids each "
          "time") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  register_template(tx, test::diamond_template());
  auto request = nlohmann::json::parse(
      R"({"namespace":"shop","task_name":"diamond","context":{"n":1},
          "message_key":"requests/41","enqueued_at":"2026-11-28 02:30:00.123456+00"})");
  // The task's uuid and its steps' in position order, created in a savepoint
  // that is rolled back (as a commit lost in a crash would be).
  auto create = [&](const nlohmann::json& r) {
    test::savepoint sp{tx};
    auto made = create_tasks(tx, nlohmann::json::array({r}));
    REQUIRE(made.size() == 1);
    std::vector<std::string> keys{made[0].task_uuid};
    for (const auto& row : tx.exec_params(
             "SELECT workflow_step_uuid FROM workflow_steps WHERE task_uuid = $1 ORDER BY position",
             made[0].task_uuid))
      keys.push_back(row[0].as<std::string>());
    REQUIRE(keys.size() == 5);
    return keys;
  };
  auto first = create(request);
  CHECK(create(request) == first);
  // Version 7, variant 10, and the time of the message: 1,795,833,000,123 ms
  // is 0x1a21ffcf0bb; the steps carry their task's time.
  for (const auto& k : first) {
    INFO(k);
    CHECK(k.substr(0, 13) == "01a21ffc-f0bb");
    CHECK(k[14] == '7');
    CHECK(std::string{"89ab"}.find(k[19]) != std::string::npos);
  }
  CHECK(std::set<std::string>(first.begin(), first.end()).size() == 5);
  // The instant counts, not how a session prints it.
  auto elsewhere = request;
  elsewhere["enqueued_at"] = "2026-11-27 21:30:00.123456-05";
  CHECK(create(elsewhere) == first);
  // The same request in another message: other uuids, whatever the content.
  auto resent = request;
  resent["message_key"] = "requests/42";
  auto second = create(resent);
  for (std::size_t i = 0; i < 5; ++i)
    CHECK(second[i] != first[i]);
  // Without its message (a direct call) each creation draws a fresh uuid.
  auto direct = request;
  direct.erase("message_key");
  direct.erase("enqueued_at");
  CHECK(create(direct)[0] != create(direct)[0]);
  // A malformed message key or time is refused naming the key.
  for (const char* key : {"message_key", "enqueued_at"}) {
    auto bad = request;
    bad[key] = 5;
    auto text = message_of(
        [&] {
          test::savepoint sp{tx};
          create_tasks(tx, nlohmann::json::array({bad}));
        },
        store_errc::invalid_request);
    CHECK(text.find(key) != std::string::npos);
  }
  CHECK(count_rows(tx, "tasks") == 0);
}

TEST_CASE("a repeated request returns the same task as a duplicate and a new context a new task") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto tmpl = test::diamond_template();
  register_template(tx, tmpl);
  auto first = create_task(tx, test::request_for(tmpl, {{"a", 1}, {"b", 2}}));
  // Key order and spacing differ; the canonical jsonb text does not.
  auto again =
      create_tasks(tx, nlohmann::json::parse(
                           R"([{"namespace":"shop","task_name":"diamond","task_version":"1.0.0",
         "context":{ "b":2, "a":1 }}])"));
  auto other = create_task(tx, test::request_for(tmpl, {{"a", 2}}));
  CHECK_FALSE(first.duplicate);
  REQUIRE(again.size() == 1);
  CHECK(again[0].duplicate);
  CHECK(again[0].task_uuid == first.task_uuid);
  CHECK_FALSE(other.duplicate);
  CHECK(other.task_uuid != first.task_uuid);
  CHECK(count_rows(tx, "tasks") == 2);
  CHECK(count_rows(tx, "workflow_steps") == 8);
}

TEST_CASE("a batch of a hundred requests creates a hundred tasks in request order") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto tmpl = test::diamond_template();
  register_template(tx, tmpl);
  std::vector<task_request> batch;
  for (int i = 0; i < 100; ++i)
    batch.push_back(test::request_for(tmpl, {{"n", i}}));
  batch.push_back(test::request_for(tmpl, {{"n", 5}})); // repeats request 5
  auto created = create_tasks(tx, batch);
  REQUIRE(created.size() == 101);
  CHECK(created[100].duplicate);
  CHECK(created[100].task_uuid == created[5].task_uuid);
  for (int i = 0; i < 100; ++i)
    CHECK_FALSE(created[static_cast<std::size_t>(i)].duplicate);
  auto context = tx.exec_params1("SELECT context->>'n' FROM tasks WHERE task_uuid = $1",
                                 created[42].task_uuid);
  CHECK(context[0].as<std::string>() == "42");
  CHECK(count_rows(tx, "tasks") == 100);
  CHECK(count_rows(tx, "workflow_step_edges") == 400);
}

TEST_CASE("task creation is atomic: a damaged template fails the batch and leaves no rows") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto good = test::diamond_template();
  auto damaged = test::flat_template("damaged", 2);
  register_template(tx, good);
  register_template(tx, damaged);
  tx.exec0("UPDATE named_steps SET depends_on = '{ghost}' WHERE name = 's1'");
  auto text = message_of(
      [&] {
        test::savepoint sp{tx};
        create_tasks(tx, {test::request_for(good, {{"i", 1}}), test::request_for(damaged, {})});
      },
      store_errc::invalid_request);
  CHECK(text.find("shop/damaged@1.0.0") != std::string::npos);
  CHECK(text.find("ghost") != std::string::npos);
  tx.commit();
  pqxx::read_transaction check{conn};
  for (const char* table : {"tasks", "workflow_steps", "workflow_step_edges", "task_transitions",
                            "workflow_step_transitions"})
    CHECK_MESSAGE(count_rows(check, table) == 0, table);
}

TEST_CASE("a damaged template without steps, or with a dependency on a later step, is refused") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto good = test::diamond_template();
  auto forward = test::flat_template("forward", 2);
  auto empty = test::flat_template("empty", 1);
  for (const auto* t : {&good, &forward, &empty})
    register_template(tx, *t);
  auto refused = [&](const task_request& r) {
    return message_of(
        [&] {
          test::savepoint sp{tx};
          create_tasks(tx, {test::request_for(good, {{"i", 1}}), r});
        },
        store_errc::invalid_request);
  };
  // s0 comes first, so it cannot depend on s1.
  tx.exec0("UPDATE named_steps SET depends_on = '{s1}' WHERE name = 's0' AND named_task_uuid ="
           " (SELECT named_task_uuid FROM named_tasks WHERE name = 'forward')");
  auto text = refused(test::request_for(forward, {}));
  CHECK(text.find("shop/forward@1.0.0 is corrupt: step \"s0\" depends on \"s1\"")
        != std::string::npos);
  tx.exec0("DELETE FROM named_steps WHERE named_task_uuid ="
           " (SELECT named_task_uuid FROM named_tasks WHERE name = 'empty')");
  text = refused(test::request_for(empty, {}));
  CHECK(text.find("shop/empty@1.0.0 is corrupt: it has no steps") != std::string::npos);
  for (const char* table : {"tasks", "workflow_steps", "workflow_step_edges", "task_transitions",
                            "workflow_step_transitions"})
    CHECK_MESSAGE(count_rows(tx, table) == 0, table);
  // The good template alone still creates its task, steps, edges and history.
  create_tasks(tx, {test::request_for(good, {{"i", 1}})});
  CHECK(count_rows(tx, "tasks") == 1);
  CHECK(count_rows(tx, "workflow_steps") == 4);
  CHECK(count_rows(tx, "workflow_step_edges") == 4);
  CHECK(count_rows(tx, "task_transitions") == 1);
  CHECK(count_rows(tx, "workflow_step_transitions") == 4);
}

TEST_CASE("an unknown namespace, template or version is refused naming it") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto tmpl = test::diamond_template();
  register_template(tx, tmpl);
  auto attempt = [&](task_request r) {
    return message_of(
        [&] {
          test::savepoint sp{tx};
          create_task(tx, r);
        },
        store_errc::not_found);
  };
  auto r = test::request_for(tmpl, {});
  r.namespace_name = "billing";
  CHECK(attempt(r).find("unknown namespace \"billing\"") != std::string::npos);
  r = test::request_for(tmpl, {});
  r.task_version = "9.9.9";
  r.request_id = "req-17";
  auto text = attempt(r);
  CHECK(text.find("shop/diamond@9.9.9") != std::string::npos);
  CHECK(text.find("req-17") != std::string::npos);
  r = test::request_for(tmpl, {});
  r.task_name = "triangle";
  CHECK(attempt(r).find("shop/triangle@1.0.0") != std::string::npos);
  CHECK(count_rows(tx, "tasks") == 0);
}

TEST_CASE("a request without a version runs the latest registered version") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  auto v1 = test::diamond_template();
  register_template(tx, v1);
  tx.exec0("UPDATE named_tasks SET created_at = now() - interval '1 hour'");
  auto v2 = v1;
  v2.version = "2.0.0";
  v2.steps.pop_back(); // drops "a"; b and c now depend on a missing step
  v2.steps[1].depends_on = {};
  v2.steps[2].depends_on = {};
  register_template(tx, v2);
  auto r = test::request_for(v1, {});
  r.task_version.clear();
  auto task = create_task(tx, r).task_uuid;
  CHECK(test::step_ids(tx, task).size() == 3);
}

TEST_CASE("a malformed request is refused naming its index and field") {
  testing::scratch_db db;
  auto conn = db.connect();
  pqxx::work tx{conn};
  register_template(tx, test::diamond_template());
  auto batch = nlohmann::json::parse(
      R"([{"namespace":"shop","task_name":"diamond"},
        {"namespace":"shop","task_name":"diamond","priority":"high","request_id":"r2"}])");
  auto text = message_of(
      [&] {
        test::savepoint sp{tx};
        create_tasks(tx, batch);
      },
      store_errc::invalid_request);
  CHECK(text.find("task request [1]") != std::string::npos);
  CHECK(text.find("r2") != std::string::npos);
  CHECK(text.find("priority") != std::string::npos);
  CHECK(count_rows(tx, "tasks") == 0);
}
