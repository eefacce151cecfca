#include "coordinator/budget_allocator.hpp"

#include <doctest/doctest.h>

using namespace tasker::coordinator;

TEST_CASE("increases within the budget are granted in full") {
  budget_allocator b{20};
  auto grants = b.allocate({{"claimer", 4, 2, 1.0}, {"results", 3, 3, 2.0}});
  REQUIRE(grants.size() == 2);
  CHECK(grants[0].granted == 2);
  CHECK(grants[1].granted == 3);
  CHECK(b.allocated() == 12);
  CHECK(b.remaining() == 8);
  CHECK(b.constraint_violations() == 0);
}

TEST_CASE("a scale-up that would break the budget is refused and counted") {
  budget_allocator b{10};
  b.set_current("finalizer", 2);
  auto grants = b.allocate({{"claimer", 7, 3, 1.0}});
  CHECK(grants[0].granted == 1);
  CHECK(grants[0].refused());
  CHECK(b.remaining() == 0);
  CHECK(b.constraint_violations() == 1);
  auto again = b.allocate({{"claimer", 8, 1, 1.0}});
  CHECK(again[0].granted == 0);
  CHECK(b.allocated() == 10);
  CHECK(b.constraint_violations() == 2);
}

TEST_CASE("the heavier-weighted pool wins a contended connection") {
  budget_allocator b{10};
  auto grants = b.allocate({{"requests", 4, 1, 1.0}, {"results", 5, 1, 2.0}});
  CHECK(grants[0].pool == "requests");
  CHECK(grants[0].granted == 0);
  CHECK(grants[1].pool == "results");
  CHECK(grants[1].granted == 1);
  CHECK(b.allocated("results") == 6);
  CHECK(b.constraint_violations() == 1);
}

TEST_CASE("equal weights are served in the order given") {
  budget_allocator b{10};
  auto grants = b.allocate({{"a", 4, 1, 1.0}, {"b", 5, 1, 1.0}});
  CHECK(grants[0].granted == 1);
  CHECK(grants[1].granted == 0);
}

TEST_CASE("released executors return to the budget") {
  budget_allocator b{10};
  b.set_current("a", 10);
  CHECK(b.remaining() == 0);
  b.release("a", 4);
  CHECK(b.allocated("a") == 6);
  CHECK(b.remaining() == 4);
  b.release("a", 100);
  CHECK(b.allocated("a") == 0);
  b.release("unknown", 1);
  CHECK(b.allocated() == 0);
}

TEST_CASE("pools already over the limit leave nothing to grant") {
  budget_allocator b{5};
  b.set_current("a", 7);
  CHECK(b.remaining() == 0);
  CHECK(b.allocate({{"b", 0, 1, 3.0}})[0].granted == 0);
}
