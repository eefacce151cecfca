// The shared first half of a consumer's batch: read, size check, parse.
#include "messaging/batch_read.hpp"
#include "messaging/queue_test_fixture.hpp"
#include "messaging/wire.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace tasker::messaging;
using tasker::messaging::test::queue_fixture;
using json = nlohmann::json;

namespace {

// Parses `{"n": <integer>}` and returns n; anything else is a wire error.
int parse_n(const std::string& text) {
  auto j = json::parse(text);
  if (!j.contains("n") || !j["n"].is_number_integer())
    throw wire_error(wire_error::kind::invalid_field, "test.n", "expected integer");
  return j["n"].get<int>();
}

} // namespace

TEST_CASE_FIXTURE(queue_fixture, "a batch read parses the good messages in order and refuses "
                                 "oversized, invalid and unrepresentable ones with their reasons") {
  // Over the limit of 1000 bytes; the unrepresentable body (401 digits) is under it.
  const json padded{{"pad", std::string(2000, 'x')}};
  auto ids = in_tx([&](auto& tx) {
    return queue_client::send_batch(tx, "jobs",
                                    {json{{"n", 1}}, padded, json{{"n", "two"}}, json{{"n", 3}}});
  });
  auto odd = in_tx([](auto& tx) {
    return tx.exec1("SELECT tasker_mq.send('jobs', '{\"n\": 1e400}'::jsonb)")[0]
        .template as<std::int64_t>();
  });

  std::size_t archived = 0;
  auto batch = in_tx([&](auto& tx) {
    auto b = read_parsed_batch(tx, "jobs", 10, 1000, "test_message", parse_n);
    archived = archive_refused(tx, "jobs", b);
    return b;
  });
  CHECK(batch.read == 5);
  // The refused ones are in the archive with their reasons; nothing is left.
  CHECK(archived == 3);
  auto dead = in_tx([](auto& tx) { return queue_client::list_archived(tx, "jobs", 10); });
  REQUIRE(dead.size() == 3);
  CHECK(in_tx([](auto& tx) { return queue_client::metrics(tx, "jobs"); }).queue_length == 0);
  CHECK(batch.items == std::vector<int>{1, 3});
  CHECK(batch.ids == std::vector<std::int64_t>{ids[0], ids[3]});
  REQUIRE(batch.invalid.size() == 3);
  CHECK(batch.invalid[0].msg_id == ids[1]);
  REQUIRE(batch.consumed.size() == 5);
  CHECK(batch.consumed[1].body.size() > 1000); // the stored text is what is measured
  CHECK(batch.invalid[0].reason ==
        "test_message: " + *oversize_reason("jobs", ids[1], batch.consumed[1].body.size(), 1000));
  CHECK(batch.invalid[1].msg_id == ids[2]);
  CHECK(batch.invalid[1].reason == "test.n: expected integer");
  CHECK(batch.invalid[2].msg_id == odd);
  CHECK(batch.invalid[2].reason.rfind("test_message: invalid JSON: ", 0) == 0);

  auto empty = in_tx([](auto& tx) {
    return read_parsed_batch(tx, "jobs", 10, 1000, "test_message", parse_n);
  });
  CHECK(empty.read == 0);
  CHECK(empty.items.empty());
  CHECK(empty.invalid.empty());
}
