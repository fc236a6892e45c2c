// Which routes a reload has unchanged (same_route_settings), and how the unchanged ones
// become the running configuration's objects (share_unchanged_routes, RouteList).
#include "arus/config/route_sharing.hpp"

#include <gtest/gtest.h>

#include "../support/route_config.hpp"

namespace arus {
namespace {

using test::route_config;

Config config_of(std::vector<RouteConfig> routes) {
  Config c;
  c.routes = std::move(routes);
  return c;
}

TEST(RouteSharing, AnUnchangedRouteBecomesTheRunningObjectAndAChangedOneStaysNew) {
  Config running = config_of({route_config("web", {"a:1"}), route_config("api", {"b:2"})});
  Config next = config_of({route_config("web", {"a:1"}), route_config("api", {"b:3"})});
  EXPECT_EQ(share_unchanged_routes(next, running), 1u);
  EXPECT_EQ(next.routes.pointer(0), running.routes.pointer(0));
  EXPECT_NE(next.routes.pointer(1), running.routes.pointer(1));
  EXPECT_EQ(next.routes[1].backends[0].name, "b:3");
}

TEST(RouteSharing, RoutesAreMatchedByNameNotPosition) {
  Config running = config_of({route_config("web", {"a:1"}), route_config("api", {"b:2"})});
  Config next = config_of(
      {route_config("api", {"b:2"}), route_config("new", {"c:3"}), route_config("web", {"a:1"})});
  EXPECT_EQ(share_unchanged_routes(next, running), 2u);
  EXPECT_EQ(next.routes.pointer(0), running.routes.pointer(1));
  EXPECT_EQ(next.routes.pointer(2), running.routes.pointer(0));
}

// Messages name the line a key was written on: a route moved by an edit above it keeps
// its own object (its lines), though it runs the same.
TEST(RouteSharing, ARouteWrittenOnOtherLinesRunsTheSameButIsNotShared) {
  RouteConfig before = route_config("web", {"a:1"});
  before.line = 10;
  before.key_lines = {{"listen", 11}, {"backend", 12}};
  RouteConfig after = before;
  after.line = 14;
  after.key_lines = {{"listen", 15}, {"backend", 16}};
  after.backends[0].line = 16;
  EXPECT_TRUE(same_route_settings(before, after));
  Config running = config_of({before});
  Config next = config_of({after});
  EXPECT_EQ(share_unchanged_routes(next, running), 0u);
  EXPECT_EQ(next.routes[0].line, 14);
}

TEST(RouteSharing, EverySettingCounts) {
  const RouteConfig base = route_config("web", {"a:1", "b:2"});
  auto differs = [&](auto edit) {
    RouteConfig other = base;
    edit(other);
    return !same_route_settings(base, other);
  };
  EXPECT_FALSE(differs([](RouteConfig&) {}));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.listen_name = "127.0.0.1:1"; }));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.backends[1].weight = 3; }));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.backends[0].max_connections = 3; }));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.backends.pop_back(); }));
  EXPECT_TRUE(differs([](RouteConfig& r) { std::swap(r.backends[0], r.backends[1]); }));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.balance = BalanceMode::kLeastConn; }));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.filter = "f.so"; }));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.filter_args = "x"; }));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.connect_timeout_ms = 1; }));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.idle_timeout_ms = 1; }));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.retries = 0; }));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.max_connections = 1; }));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.proxy_protocol.send = SendProxy::kV2; }));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.health_check.interval_ms = 5000; }));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.limits.queue_timeout_ms = 5; }));
  EXPECT_TRUE(differs([](RouteConfig& r) { r.dns.refresh_ms = 5; }));
}

// A DNS refresh copies the running configuration and edits the copy: the copy must not
// reach the running routes.
TEST(RouteList, ACopyHasRoutesOfItsOwn) {
  Config running = config_of({route_config("web", {"a:1"})});
  Config copy = running;
  copy.routes[0].backends[0].name = "b:2";
  EXPECT_EQ(running.routes[0].backends[0].name, "a:1");
  EXPECT_NE(copy.routes.pointer(0), running.routes.pointer(0));
}

TEST(RouteList, ASharedRouteOutlivesTheConfigurationItCameFrom) {
  auto running = std::make_unique<Config>(config_of({route_config("web", {"a:1"})}));
  Config next = config_of({route_config("web", {"a:1"})});
  ASSERT_EQ(share_unchanged_routes(next, *running), 1u);
  running.reset();
  EXPECT_EQ(next.routes[0].backends[0].name, "a:1");
}

}  // namespace
}  // namespace arus

namespace arus {
namespace {

// A DNS refresh replaces one route of a copy whose other routes are the running objects.
TEST(RouteSharing, WithRunningRoutesSharesEveryRouteAndCopiesTheRest) {
  Config running = config_of({test::route_config("web", {"a:1"}), test::route_config("api", {"b:2"})});
  running.path = "/etc/arus/proxy.conf";
  running.source = "[route:web]\n";
  running.global.plugin_dir = "/p";
  Config copy = with_running_routes(running);
  EXPECT_EQ(copy.path, running.path);
  EXPECT_EQ(copy.source, running.source);
  EXPECT_EQ(copy.global.plugin_dir, "/p");
  ASSERT_EQ(copy.routes.size(), 2u);
  EXPECT_EQ(copy.routes.pointer(0), running.routes.pointer(0));
  EXPECT_EQ(copy.routes.pointer(1), running.routes.pointer(1));
  copy.routes.share(1, std::make_shared<const RouteConfig>(test::route_config("api", {"c:3"})));
  EXPECT_EQ(running.routes[1].backends[0].name, "b:2");
  EXPECT_EQ(share_unchanged_routes(copy, running), 1u);
}

}  // namespace
}  // namespace arus
