// prepare_health_checks: which backends of a snapshot the checker gets, and the check
// mode it sets on every backend's shared health, also across a reload.
#include "arus/runtime/health_targets.hpp"

#include <gtest/gtest.h>

#include "arus/runtime/snapshot_builder.hpp"

#include "../support/route_config.hpp"
#include "../support/snapshot.hpp"

namespace arus {
namespace {

using test::route_config;
using test::snapshot;

RouteConfig checked(RouteConfig route, HealthCheckKind kind = HealthCheckKind::kRedis) {
  route.health_check.kind = kind;
  route.health_check.interval_ms = 500;
  return route;
}

TEST(HealthTargets, OnlyRoutesWithChecksAndEveryBackendMarked) {
  auto s = snapshot({checked(route_config("cache", {"a:1", "b:2"})),
                     route_config("web", {"c:3"}, "127.0.0.1:8081")});
  ASSERT_TRUE(s);
  std::vector<HealthTarget> targets = prepare_health_checks(*s);
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].route, "cache");
  EXPECT_EQ(targets[0].backend, "a:1");
  EXPECT_EQ(targets[1].backend, "b:2");
  EXPECT_EQ(targets[0].check.interval_ms, 500u);
  EXPECT_EQ(targets[0].health, s->routes[0]->backends[0].health);
  EXPECT_TRUE(s->routes[0]->backends[0].health->actively_checked());
  EXPECT_TRUE(s->routes[0]->backends[1].health->actively_checked());
  EXPECT_FALSE(s->routes[1]->backends[0].health->actively_checked());
}

TEST(HealthTargets, AReloadKeepsTheHealthObjectAndCanTurnChecksOff) {
  auto first = snapshot({checked(route_config("cache", {"a:1", "b:2"}))});
  ASSERT_TRUE(first);
  std::vector<HealthTarget> before = prepare_health_checks(*first);
  ASSERT_TRUE(first->routes[0]->backends[0].health->mark_down_by_check(1000));

  // a kept, b removed, c added: the checker recognises a by its health object.
  auto second = snapshot({checked(route_config("cache", {"c:3", "a:1"}))}, first.get());
  ASSERT_TRUE(second);
  std::vector<HealthTarget> after = prepare_health_checks(*second);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1].backend, "a:1");
  EXPECT_EQ(after[1].health, before[0].health);
  EXPECT_FALSE(after[1].health->is_up(1000 + 3'600'000)) << "still down, checks decide";
  EXPECT_NE(after[0].health, before[1].health);

  // Checks off: the kept backend is in plain back-off, so clients probe it again.
  auto third = snapshot({route_config("cache", {"c:3", "a:1"})}, second.get());
  ASSERT_TRUE(third);
  EXPECT_TRUE(prepare_health_checks(*third).empty());
  EXPECT_FALSE(before[0].health->actively_checked());
  EXPECT_TRUE(before[0].health->is_up(1000 + BackendHealth::kFirstBackoffMs));
}

}  // namespace
}  // namespace arus
