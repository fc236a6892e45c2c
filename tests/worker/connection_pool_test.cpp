// ConnectionPool: connections made once and reused last-in first-out, the high-water mark
// kept, and room made for the recycling tasks the worker defers.
#include "arus/worker/connection_pool.hpp"

#include <gtest/gtest.h>

#include <set>

#include "../relay/connection_host.hpp"

namespace arus {
namespace {

TEST(ConnectionPool, ReusesReleasedConnectionsAndKeepsItsHighWaterMark) {
  test::FakeHost host;
  ConnectionPool pool(host);
  Connection* a = pool.acquire();
  Connection* b = pool.acquire();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_EQ(pool.size(), 2u);
  EXPECT_EQ(pool.free_count(), 0u);

  pool.release(*a);
  EXPECT_EQ(pool.free_count(), 1u);
  EXPECT_EQ(pool.acquire(), a);  // no new object while one is free
  EXPECT_EQ(pool.size(), 2u);

  pool.release(*a);
  pool.release(*b);
  EXPECT_EQ(pool.size(), 2u);  // released connections stay made
  EXPECT_EQ(pool.free_count(), 2u);
}

TEST(ConnectionPool, ForEachVisitsEveryConnectionFreeOrNot) {
  test::FakeHost host;
  ConnectionPool pool(host);
  std::set<Connection*> made;
  for (int i = 0; i < 5; ++i) made.insert(pool.acquire());
  pool.release(**made.begin());
  std::set<Connection*> seen;
  pool.for_each([&](Connection& c) { seen.insert(&c); });
  EXPECT_EQ(seen, made);
  pool.clear();
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(pool.free_count(), 0u);
}

// Releasing must never allocate: the free list's room grows with the pool, so every
// connection made can be released at once.
TEST(ConnectionPool, EveryConnectionMadeCanBeReleased) {
  test::FakeHost host;
  ConnectionPool pool(host);
  std::vector<Connection*> held;
  for (int i = 0; i < 100; ++i) held.push_back(pool.acquire());
  for (Connection* c : held) pool.release(*c);
  EXPECT_EQ(pool.free_count(), 100u);
  EXPECT_EQ(pool.size(), 100u);
}

}  // namespace
}  // namespace arus
