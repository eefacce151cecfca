// Garbage on the queues: malformed task requests and step results, mixed with
// good requests, sent to a running node. Every bad message must end in the
// queue's archive with a reason naming its fault, every good request must
// complete, and the node must survive it all without a failed batch.
#include "tests/fault/input/bad_messages.hpp"
#include "tests/fault/input/fault_env.hpp"
#include "tests/integration/harness.hpp"

#include <doctest/doctest.h>
#include <httplib.h>

#include <algorithm>
#include <map>
#include <random>
#include <regex>
#include <sstream>

using namespace tasker;
using namespace tasker::fault;
using namespace tasker::testing;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t ten_megabytes = 10 * 1024 * 1024;

/// One message to send: its queue, its text and, for a bad one, its expectation.
struct outgoing {
  std::string queue;
  bad_message msg;
  bool good = false;
};

/// Sends `texts` in one transaction per chunk; the msg_ids in order.
std::vector<std::int64_t> send_texts(const scratch_db& db, const std::vector<outgoing>& batch) {
  std::vector<std::int64_t> ids;
  auto conn = db.connect();
  for (std::size_t from = 0; from < batch.size(); from += 100) {
    pqxx::work tx{conn};
    for (std::size_t i = from; i < std::min(batch.size(), from + 100); ++i)
      ids.push_back(tx.exec_params1("SELECT tasker_mq.send($1, $2::jsonb)", batch[i].queue,
                                    batch[i].msg.text)[0]
                        .as<std::int64_t>());
    tx.commit();
  }
  return ids;
}

/// msg_id -> reason of every archived message of `queue`.
std::map<std::int64_t, std::string> archive_of(const scratch_db& db, const std::string& queue) {
  auto conn = db.connect();
  pqxx::read_transaction tx{conn};
  std::map<std::int64_t, std::string> out;
  for (const auto& row : tx.exec("SELECT msg_id, reason FROM tasker_mq.a_" + queue))
    out.emplace(row[0].as<std::int64_t>(), row[1].as<std::string>());
  return out;
}

/// The summed value of every sample of `family` whose labels contain `label`.
double metric_sum(const std::string& metrics, const std::string& family, const std::string& label) {
  double sum = 0;
  std::istringstream in{metrics};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(family + "{", 0) != 0 || line.find(label) == std::string::npos)
      continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

/// The node's /metrics text, read from the port it announced.
std::string scrape_metrics(child_process& node) {
  std::smatch m;
  auto out = node.output();
  std::regex http_line{"http on 127\\.0\\.0\\.1:([0-9]+)"};
  REQUIRE_MESSAGE(std::regex_search(out, m, http_line), "the node announced no HTTP port:\n"
                                                            << out);
  httplib::Client client{"127.0.0.1", std::stoi(m[1].str())};
  client.set_read_timeout(30, 0);
  auto res = client.Get("/metrics");
  REQUIRE_MESSAGE(res, "GET /metrics failed");
  REQUIRE(res->status == 200);
  return res->body;
}

/// Checks every expected bad message against `archived`; returns how many matched.
std::size_t check_archive(const std::map<std::int64_t, bad_message>& expected,
                          const std::map<std::int64_t, std::string>& archived,
                          const std::string& queue) {
  std::size_t matched = 0;
  std::size_t reported = 0;
  for (const auto& [id, msg] : expected) {
    auto it = archived.find(id);
    std::string problem;
    if (it == archived.end())
      problem = "not archived";
    else if (it->second.find(msg.expect) == std::string::npos)
      problem = "archived as \"" + it->second.substr(0, 300) + "\"";
    if (problem.empty()) {
      ++matched;
    } else if (++reported <= 15) {
      FAIL_CHECK(queue << " message " << id << " (" << msg.category << "): " << problem
                       << "; expected the reason to contain \"" << msg.expect << "\"");
    }
  }
  return matched;
}

} // namespace

TEST_CASE("a thousand malformed requests and results are archived with reasons naming the fault "
          "while every good request completes and the node survives") {
  const std::size_t bad_total = long_run() ? 5000 : 1000;
  const std::size_t good_total = long_run() ? 300 : 60;
  const std::size_t late_bad = 20; // results naming real steps or tasks, sent at the end
  const std::size_t early_bad = bad_total - late_bad - 2;
  const std::size_t bad_requests = early_bad * 2 / 3;

  cluster c;
  c.register_template(good_template_toml());
  auto& node = c.start_node("fault-input", {"--with-worker", good_namespace});

  std::vector<outgoing> all;
  for (std::size_t i = 0; i < bad_requests; ++i)
    all.push_back({requests_queue, bad_request(i)});
  for (std::size_t i = 0; i < early_bad - bad_requests; ++i)
    all.push_back({results_queue, bad_result(i)});
  all.push_back({requests_queue, oversized_request(ten_megabytes)});
  all.push_back({results_queue, oversized_result(ten_megabytes)});
  for (std::size_t i = 0; i < good_total; ++i)
    all.push_back({requests_queue, {good_request(i).dump(), "", "good"}, true});
  std::shuffle(all.begin(), all.end(), std::mt19937{20261126});
  REQUIRE(bad_requests >= 2 * request_categories());
  REQUIRE(early_bad - bad_requests >= 2 * result_categories());

  auto ids = send_texts(c.db(), all);
  REQUIRE(ids.size() == all.size());
  std::map<std::int64_t, bad_message> bad_by_id[2]; // [0] requests, [1] results
  std::vector<std::int64_t> good_ids;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].good)
      good_ids.push_back(ids[i]);
    else
      bad_by_id[all[i].queue == results_queue ? 1 : 0].emplace(ids[i], all[i].msg);
  }

  auto complete = c.wait_for(tasks_in("complete"), static_cast<std::int64_t>(good_total), 600s);
  INFO(c.logs().substr(0, 20000));
  REQUIRE(complete == static_cast<std::int64_t>(good_total));

  // Results that name a real step with an unknown task, or a real task with an unknown step.
  std::vector<outgoing> late;
  {
    auto conn = c.db().connect();
    pqxx::read_transaction tx{conn};
    auto rows = tx.exec("SELECT task_uuid::text, workflow_step_uuid::text FROM workflow_steps "
                        "ORDER BY workflow_step_uuid LIMIT " +
                        std::to_string(late_bad / 2));
    REQUIRE(rows.size() == late_bad / 2);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      late.push_back({results_queue, result_for(fake_uuid(0xdead0001, i), rows[i][1].c_str())});
      late.push_back({results_queue, result_for(rows[i][0].c_str(), fake_uuid(0xdead0002, i))});
    }
  }
  auto late_ids = send_texts(c.db(), late);
  for (std::size_t i = 0; i < late.size(); ++i)
    bad_by_id[1].emplace(late_ids[i], late[i].msg);
  REQUIRE(bad_by_id[0].size() + bad_by_id[1].size() == bad_total);

  // Consumed: nothing left in either queue, visible or in flight.
  for (const char* q : {requests_queue, results_queue})
    REQUIRE_MESSAGE(c.wait_for(std::string{"SELECT count(*) FROM tasker_mq.q_"} + q, 0, 300s) == 0,
                    q << " still holds messages");

  auto archived_requests = archive_of(c.db(), requests_queue);
  auto archived_results = archive_of(c.db(), results_queue);
  CHECK(check_archive(bad_by_id[0], archived_requests, requests_queue) == bad_by_id[0].size());
  CHECK(check_archive(bad_by_id[1], archived_results, results_queue) == bad_by_id[1].size());
  // One reason per kind, as evidence in the test output.
  std::map<std::string, std::string> sample;
  for (int q = 0; q < 2; ++q)
    for (const auto& [id, msg] : bad_by_id[q]) {
      const auto& archived = q == 0 ? archived_requests : archived_results;
      if (auto it = archived.find(id); it != archived.end())
        sample.emplace((q == 0 ? "request: " : "result: ") + msg.category,
                       it->second.substr(0, 200));
    }
  std::ostringstream reasons;
  for (const auto& [kind, reason] : sample)
    reasons << "  " << kind << " -> " << reason << "\n";
  MESSAGE("archived reasons, one per kind:\n" << reasons.str());
  // Nothing else was archived: no good request, no result of a good task.
  CHECK(archived_requests.size() == bad_by_id[0].size());
  CHECK(archived_results.size() == bad_by_id[1].size());
  for (auto id : good_ids)
    CHECK_MESSAGE(archived_requests.count(id) == 0,
                  "good request message " << id << " archived: " << archived_requests[id]);

  // Every good request became exactly one complete task, its hostile context intact.
  CHECK(c.scalar("SELECT count(*) FROM tasks") == static_cast<std::int64_t>(good_total));
  CHECK(c.scalar("SELECT count(DISTINCT request_id) FROM tasks WHERE request_id LIKE "
                 "'fa017001-%' AND current_state = 'complete'") ==
        static_cast<std::int64_t>(good_total));
  CHECK(c.scalar("SELECT count(*) FROM tasks WHERE context->>'note' = "
                 "'x''; DROP TABLE tasks; --' AND context->>'text' LIKE 'caf\u00e9 %'") ==
        static_cast<std::int64_t>(good_total));

  // The oversized request was refused by its size, naming its id and queue.
  auto big = std::find_if(bad_by_id[0].begin(), bad_by_id[0].end(),
                          [](const auto& kv) { return kv.second.category == "10 MB request"; });
  REQUIRE(big != bad_by_id[0].end());
  CHECK(archived_requests[big->first].find("message " + std::to_string(big->first) + " on " +
                                           requests_queue + " is ") != std::string::npos);

  // The node is alive, printed no crash, and no batch of either processor failed.
  CHECK(node.running());
  CHECK_MESSAGE(crash_marker(node.output()).empty(), "crash marker in the node's output");
  auto metrics = scrape_metrics(node);
  for (const char* pool : {"task_request_processor", "step_result_processor"}) {
    std::string label = std::string{"pool=\""} + pool + "\"";
    CHECK_MESSAGE(metric_sum(metrics, "orchestration_pool_errors_total", label) == 0,
                  pool << " had failed batches");
    CHECK_MESSAGE(metric_sum(metrics, "orchestration_pool_items_processed_total", label) > 0,
                  pool << " processed nothing");
  }
}
