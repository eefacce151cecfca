#pragma once
/// Shared by the queue tests: a scratch database (migrated, so tasker_mq
/// exists) with one connection and one queue named "jobs".

#include "messaging/queue_client.hpp"
#include "tests/support/scratch_db.hpp"

#include <pqxx/pqxx>

#include <type_traits>
#include <utility>

namespace tasker::messaging::test {

struct queue_fixture {
  testing::scratch_db db;
  pqxx::connection conn{db.connect()};

  explicit queue_fixture(const char* queue = "jobs") {
    pqxx::work tx{conn};
    queue_client::create_queue(tx, queue);
    tx.commit();
  }

  /// Runs `f(tx)` in its own committed transaction and returns its result.
  template <class F>
  auto in_tx(F&& f) {
    pqxx::work tx{conn};
    if constexpr (std::is_void_v<decltype(f(tx))>) {
      std::forward<F>(f)(tx);
      tx.commit();
    } else {
      auto result = std::forward<F>(f)(tx);
      tx.commit();
      return result;
    }
  }
};

} // namespace tasker::messaging::test
