// Archive retention: purging archived messages by age, batch by batch.
#include "messaging/archive_retention.hpp"
#include "messaging/queue_client.hpp"
#include "messaging/queue_sql.hpp"
#include "messaging/queue_test_fixture.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

using namespace tasker::messaging;
using tasker::messaging::test::queue_fixture;
using json = nlohmann::json;
using ids = std::vector<std::int64_t>;

namespace {

// Sends `count` messages to `queue` and archives them, `days_ago` days back.
ids archive_aged(queue_fixture& f, const std::string& queue, int count, int days_ago) {
  return f.in_tx([&](auto& tx) {
    std::vector<json> bodies(static_cast<std::size_t>(count), json{{"q", queue}});
    auto sent = queue_client::send_batch(tx, queue, bodies);
    queue_client::archive(tx, queue, sent, "test");
    tx.exec_params("UPDATE tasker_mq." + tx.quote_name("a_" + queue) +
                       " SET archived_at = now() - make_interval(days => $1)"
                       " WHERE msg_id = ANY($2::bigint[])",
                   days_ago, detail::pg_array_literal(sent));
    return sent;
  });
}

ids archived_ids(queue_fixture& f, const std::string& queue) {
  ids out;
  for (const auto& m :
       f.in_tx([&](auto& tx) { return queue_client::list_archived(tx, queue, 1000); }))
    out.push_back(m.msg_id);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

TEST_CASE_FIXTURE(queue_fixture, "purging an archive deletes only messages past the retention, "
                                 "at most one batch per call, and no other queue's") {
  in_tx([](auto& tx) { queue_client::create_queue(tx, "other"); });
  archive_aged(*this, "jobs", 3, 10);
  auto recent = archive_aged(*this, "jobs", 2, 1);
  auto other = archive_aged(*this, "other", 2, 10);

  auto purge = [&] {
    return in_tx([](auto& tx) { return queue_client::purge_archive(tx, "jobs", 7, 2); });
  };
  CHECK(purge() == 2);
  CHECK(purge() == 1);
  CHECK(purge() == 0);
  CHECK(archived_ids(*this, "jobs") == recent);
  CHECK(archived_ids(*this, "other") == other);
}

TEST_CASE_FIXTURE(queue_fixture, "a retention of 0 days purges every archived message") {
  archive_aged(*this, "jobs", 2, 0);
  archive_aged(*this, "jobs", 1, 3);
  CHECK(in_tx([](auto& tx) { return queue_client::purge_archive(tx, "jobs", 0, 100); }) == 3);
  CHECK(archived_ids(*this, "jobs").empty());
}

TEST_CASE_FIXTURE(queue_fixture, "purge_archives empties every queue's expired archive in batches "
                                 "and reports the count per queue") {
  in_tx([](auto& tx) {
    queue_client::create_queue(tx, "alpha");
    queue_client::create_queue(tx, "quiet");
  });
  archive_aged(*this, "alpha", 5, 30);
  auto alpha_recent = archive_aged(*this, "alpha", 1, 2);
  archive_aged(*this, "jobs", 2, 8);
  auto quiet = archive_aged(*this, "quiet", 2, 6);

  auto purged = purge_archives(conn, 7, 2);
  REQUIRE(purged.size() == 2);
  CHECK(purged[0].queue == "alpha");
  CHECK(purged[0].deleted == 5);
  CHECK(purged[1].queue == "jobs");
  CHECK(purged[1].deleted == 2);
  CHECK(archived_ids(*this, "alpha") == alpha_recent);
  CHECK(archived_ids(*this, "jobs").empty());
  CHECK(archived_ids(*this, "quiet") == quiet);
  CHECK(purge_archives(conn, 7).empty());
}

TEST_CASE_FIXTURE(queue_fixture, "an archive purge refuses invalid names and negative arguments") {
  {
    pqxx::work tx{conn};
    CHECK_THROWS_AS(queue_client::purge_archive(tx, "Jobs; DROP", 7, 10), std::invalid_argument);
    CHECK_THROWS_AS(queue_client::purge_archive(tx, "jobs", -1, 10), std::invalid_argument);
    CHECK_THROWS_AS(queue_client::purge_archive(tx, "jobs", 7, -1), std::invalid_argument);
  }
  {
    pqxx::work tx{conn};
    CHECK_THROWS_AS(tx.exec("SELECT tasker_mq.purge_archive('jobs', -1, 10)"), pqxx::sql_error);
  }
  CHECK_THROWS_AS(purge_archives(conn, -1), std::invalid_argument);
  CHECK_THROWS_AS(purge_archives(conn, 7, 0), std::invalid_argument);
}
