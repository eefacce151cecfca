// Concurrent consumers: FOR UPDATE SKIP LOCKED plus the visibility timeout
// must hand every message to exactly one reader.
#include "messaging/queue_client.hpp"
#include "messaging/queue_test_fixture.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace tasker::messaging;
using tasker::messaging::test::queue_fixture;
using json = nlohmann::json;

namespace {

struct reader_result {
  std::vector<std::int64_t> ids;
  std::string error;
};

// Reads batches until the queue is empty. Half the readers delete in the
// reading transaction; the others commit the read first and delete in a second
// transaction, as a worker does (so a crash between them only redelivers).
void consume(const std::string& url, bool delete_in_read_tx, reader_result& out) {
  try {
    pqxx::connection conn{url};
    prepare_queue_statements(conn);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      std::vector<std::int64_t> batch;
      {
        pqxx::work tx{conn};
        for (const auto& m : queue_client::read(tx, "jobs", 60, 50))
          batch.push_back(m.msg_id);
        // Hold the read rows a moment, as processing would, so that the
        // readers' transactions overlap and contend for the same rows.
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        if (delete_in_read_tx && !batch.empty())
          queue_client::remove(tx, "jobs", batch);
        tx.commit();
      }
      if (batch.empty()) {
        // Whatever is left is locked or in flight: owned by another reader,
        // which deletes it. Done once nothing is left at all.
        pqxx::work tx{conn};
        if (queue_client::metrics(tx, "jobs").queue_length == 0)
          return;
        if (std::chrono::steady_clock::now() > deadline)
          throw std::runtime_error("the queue did not drain within 60 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      if (!delete_in_read_tx) {
        pqxx::work tx{conn};
        auto gone = queue_client::remove(tx, "jobs", batch);
        tx.commit();
        if (gone.size() != batch.size())
          throw std::runtime_error("a message read by this reader was deleted by another");
      }
      out.ids.insert(out.ids.end(), batch.begin(), batch.end());
    }
  } catch (const std::exception& e) {
    out.error = e.what();
  }
}

} // namespace

TEST_CASE_FIXTURE(queue_fixture,
                  "four concurrent readers get every one of 10000 messages exactly once") {
  constexpr int total = 10'000;
  std::vector<std::int64_t> sent;
  in_tx([&](auto& tx) {
    for (int chunk = 0; chunk < total / 1000; ++chunk) {
      std::vector<json> bodies;
      for (int i = 0; i < 1000; ++i)
        bodies.push_back(json{{"n", chunk * 1000 + i}});
      auto got = queue_client::send_batch(tx, "jobs", bodies);
      sent.insert(sent.end(), got.begin(), got.end());
    }
  });
  REQUIRE(sent.size() == total);

  std::vector<reader_result> results(4);
  std::vector<std::thread> readers;
  for (std::size_t i = 0; i < results.size(); ++i)
    readers.emplace_back(consume, db.url(), i % 2 == 0, std::ref(results[i]));
  for (auto& t : readers)
    t.join();

  std::vector<std::int64_t> received;
  for (const auto& r : results) {
    CHECK_MESSAGE(r.error.empty(), r.error);
    CHECK_MESSAGE(!r.ids.empty(), "a reader got nothing: the readers did not overlap");
    received.insert(received.end(), r.ids.begin(), r.ids.end());
  }
  std::sort(received.begin(), received.end());
  auto dup = std::adjacent_find(received.begin(), received.end());
  if (dup != received.end())
    FAIL_CHECK("message " << *dup << " was delivered twice");
  std::sort(sent.begin(), sent.end());
  CHECK(received.size() == sent.size());
  CHECK(received == sent);
  CHECK(in_tx([](auto& tx) { return queue_client::metrics(tx, "jobs"); }).queue_length == 0);
}
