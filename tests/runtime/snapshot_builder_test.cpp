// build_snapshot: what a reload carries over from the running snapshot to the new one;
// attach_stats: what the stats rows then report.
#include "arus/runtime/snapshot_builder.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../support/route_config.hpp"
#include "../support/snapshot.hpp"

namespace arus {
namespace {

using test::backend_at;
using test::route_config;
using test::snapshot;

constexpr uint64_t kNow = 1'000'000;

// Without this, a reload during an outage made the dead backend look healthy again, and
// its recovery afterwards never set arus_backend_up back to 1.
TEST(BuildSnapshot, KeptBackendsKeepTheirHealthAcrossAReload) {
  auto first = snapshot({route_config("web", {"a:1", "b:2"})});
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->routes[0]->backends[1].health->record_failure(kNow));

  // Backends reordered, one added: health follows the name, not the position.
  auto second = snapshot({route_config("web", {"c:3", "b:2", "a:1"})}, first.get());
  ASSERT_TRUE(second);
  const RouteRuntime& web = *second->routes[0];
  EXPECT_EQ(web.backends[1].health->consecutive_failures(), 1u);
  EXPECT_FALSE(web.backends[1].health->is_up(kNow)) << "still in its back-off";
  EXPECT_EQ(web.backends[0].health->consecutive_failures(), 0u) << "a new backend starts up";
  EXPECT_EQ(web.backends[2].health->consecutive_failures(), 0u);
  EXPECT_TRUE(web.backends[1].health->record_success()) << "recovery is seen as one";
  EXPECT_EQ(web.admission, first->routes[0]->admission) << "and the route's count is shared";
}

// Issue 12, item 3: a connect of the old generation that fails after the reload, and the
// new generation's success afterwards, change one state (a copy lost the failure).
TEST(BuildSnapshot, Issue12OldAndNewGenerationShareOneHealthState) {
  auto first = snapshot({route_config("web", {"a:1"})});
  ASSERT_TRUE(first);
  auto second = snapshot({route_config("web", {"a:1"}, "127.0.0.1:9999")}, first.get());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->routes[0]->backends[0].health, first->routes[0]->backends[0].health);

  ASSERT_TRUE(first->routes[0]->backends[0].health->record_failure(kNow));
  EXPECT_FALSE(second->routes[0]->backends[0].health->marked_up());
  EXPECT_TRUE(second->routes[0]->backends[0].health->record_success());
  EXPECT_TRUE(first->routes[0]->backends[0].health->marked_up());

  // And on to the generation after: still the one object.
  auto third = snapshot({route_config("web", {"a:1", "b:2"})}, second.get());
  ASSERT_TRUE(third);
  EXPECT_EQ(third->routes[0]->backends[0].health, first->routes[0]->backends[0].health);
}

TEST(BuildSnapshot, ABackendRemovedAndAddedBackStartsUp) {
  auto first = snapshot({route_config("web", {"a:1", "b:2"})});
  ASSERT_TRUE(first);
  first->routes[0]->backends[1].health->record_failure(kNow);
  auto without = snapshot({route_config("web", {"a:1"})}, first.get());
  ASSERT_TRUE(without);
  auto again = snapshot({route_config("web", {"a:1", "b:2"})}, without.get());
  ASSERT_TRUE(again);
  // A backend a reload adds is up (SPEC, health checks: "for a backend a reload adds").
  EXPECT_NE(again->routes[0]->backends[1].health, first->routes[0]->backends[1].health);
  EXPECT_TRUE(again->routes[0]->backends[1].health->marked_up());
}

TEST(BuildSnapshot, TheSameAddressTwiceInARouteIsOneState) {
  // One stats row for both lines, so one state for both, or the gauge would be ambiguous.
  auto first = snapshot({route_config("web", {"a:1", "b:2", "a:1"})});
  ASSERT_TRUE(first);
  const RouteRuntime& web = *first->routes[0];
  EXPECT_EQ(web.backends[0].health, web.backends[2].health);
  EXPECT_NE(web.backends[0].health, web.backends[1].health);
  auto second = snapshot({route_config("web", {"a:1", "a:1"})}, first.get());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->routes[0]->backends[1].health, web.backends[0].health);
}

TEST(BuildSnapshot, OtherRoutesStartAfresh) {
  auto first = snapshot({route_config("web", {"b:2"})});
  ASSERT_TRUE(first);
  first->routes[0]->backends[0].health->record_failure(kNow);
  auto second = snapshot({route_config("api", {"b:2"})}, first.get());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->routes[0]->backends[0].health->consecutive_failures(), 0u);
  EXPECT_NE(second->routes[0]->backends[0].health, first->routes[0]->backends[0].health);
  EXPECT_NE(second->routes[0]->admission, first->routes[0]->admission);
}

// arus_backend_up is the health state itself, read at each scrape: a failure of an old
// generation shows, and so does the new generation's recovery, with nothing else to set.
TEST(AttachStats, Issue12BackendUpIsReadFromTheSharedHealth) {
  StatsTable table(1, "v");
  auto first = snapshot({route_config("web", {"a:1"})});
  ASSERT_TRUE(first);
  attach_stats(*first, table, table.apply(*first->config));
  auto second = snapshot({route_config("web", {"a:1"})}, first.get());
  ASSERT_TRUE(second);
  attach_stats(*second, table, table.apply(*second->config));

  auto up = [&table] { return table.snapshot().routes.at(0).backends.at(0).up; };
  EXPECT_TRUE(up());
  first->routes[0]->backends[0].health->record_failure(kNow);
  EXPECT_FALSE(up());
  second->routes[0]->backends[0].health->record_success();
  EXPECT_TRUE(up());
}

// Issue 16: a backend's open-connection count survives a reload (connections of the old
// generation still count against the cap), the new cap applies only at the commit, and
// the route keeps its queue and per-source limits.
TEST(BuildSnapshot, BackendSlotsQueueAndLimitsAreHandedOverAndCapsApplyAtCommit) {
  RouteConfig web = route_config("web", {"a:1", "b:2"});
  web.backends[0].max_connections = 2;
  web.limits.max_connections_per_source = 3;
  auto first = snapshot({web});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->routes[0]->backends[0].slots->cap(), 2u);
  ASSERT_TRUE(first->routes[0]->backends[0].slots->try_acquire());
  ASSERT_NE(first->routes[0]->source_limits, nullptr);

  RouteConfig changed = route_config("web", {"b:2", "a:1"});
  changed.backends[1].max_connections = 5;
  auto second = snapshot({changed}, first.get());
  ASSERT_TRUE(second);
  const RouteRuntime& route = *second->routes[0];
  EXPECT_EQ(route.backends[1].slots, first->routes[0]->backends[0].slots);
  EXPECT_EQ(route.backends[1].slots->active(), 1u);
  EXPECT_EQ(route.backends[1].slots->cap(), 2u) << "not before the commit";
  EXPECT_EQ(route.queue, first->routes[0]->queue);
  EXPECT_EQ(route.source_limits, first->routes[0]->source_limits);
  apply_limits(*second);
  EXPECT_EQ(route.backends[1].slots->cap(), 5u);
  EXPECT_EQ(route.backends[0].slots->cap(), 0u);

  auto other = snapshot({route_config("api", {"a:1"})}, second.get());
  ASSERT_TRUE(other);
  EXPECT_NE(other->routes[0]->queue, route.queue) << "another route, another queue";
  EXPECT_EQ(other->routes[0]->backends[0].slots->active(), 0u);
}

// Issue 18: the addresses of a line written as a DNS name are backends of their own; a
// refresh that keeps an address keeps its health (and stats row), one that adds an
// address starts it up, and the filter instance is reused, not loaded again.
RouteConfig named_route(std::vector<std::string> ips) {
  RouteConfig r = route_config("db", {});
  for (const std::string& ip : ips) {
    r.backends.push_back(backend_at("db.internal:5432", ip, 5432, /*by_name=*/true));
  }
  return r;
}

TEST(BuildSnapshot, AnAddressThatStaysAcrossADnsRefreshKeepsItsHealth) {
  auto first = snapshot({named_route({"10.0.0.1", "10.0.0.2"})});
  ASSERT_TRUE(first);
  EXPECT_NE(first->routes[0]->backends[0].health, first->routes[0]->backends[1].health)
      << "one name, two backends";
  ASSERT_TRUE(first->routes[0]->backends[1].health->record_failure(kNow));

  auto config = std::make_shared<Config>();
  config->routes = {named_route({"10.0.0.2", "10.0.0.3"})};
  auto built = build_snapshot(config, first.get(), FilterLoad::kKeepRunning);
  ASSERT_TRUE(built.ok());
  const RouteRuntime& db = *(*built)->routes[0];
  EXPECT_EQ(db.backends[0].health, first->routes[0]->backends[1].health);
  EXPECT_FALSE(db.backends[0].health->marked_up()) << "10.0.0.2 is still down";
  EXPECT_TRUE(db.backends[1].health->marked_up()) << "10.0.0.3 is new and starts up";
  EXPECT_EQ(db.backends[0].hash_key, first->routes[0]->backends[1].hash_key)
      << "source_hash keeps 10.0.0.2's clients";
  EXPECT_EQ(db.admission, first->routes[0]->admission);

  StatsTable stats(1, "test");
  attach_stats(**built, stats, stats.apply(*config));
  StatsSnapshot s = stats.snapshot();
  ASSERT_EQ(s.routes[0].backends.size(), 2u);
  EXPECT_EQ(s.routes[0].backends[0].name, "db.internal:5432");
  EXPECT_EQ(s.routes[0].backends[0].address, "10.0.0.2:5432");
  EXPECT_FALSE(s.routes[0].backends[0].up);
  EXPECT_EQ(s.routes[0].backends[1].address, "10.0.0.3:5432");
  EXPECT_TRUE(s.routes[0].backends[1].up);
}

}  // namespace
}  // namespace arus
