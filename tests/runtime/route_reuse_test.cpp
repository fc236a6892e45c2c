// A reload reuses the runtime of a route it has unchanged (build_snapshot), and builds,
// attaches and limits only the changed ones (issue 19, "reload at scale, in place").
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "../plugin/filter_test_util.hpp"
#include "../support/route_config.hpp"
#include "arus/config/route_sharing.hpp"
#include "arus/runtime/snapshot_builder.hpp"
#include "arus/stats/stats_table.hpp"

namespace arus {
namespace {

using test::route_config;

// As a reload commits: share what is unchanged, build, apply the stats, attach.
std::shared_ptr<Snapshot> reload(StatsTable& stats, Config next, const Snapshot* running,
                                 FilterLoad filters = FilterLoad::kLoad) {
  if (running != nullptr) share_unchanged_routes(next, *running->config);
  auto config = std::make_shared<const Config>(std::move(next));
  auto built = build_snapshot(config, running, filters);
  EXPECT_TRUE(built.ok()) << (built ? "" : built.error().message);
  if (!built) return nullptr;
  attach_stats(**built, stats, stats.apply(*config));
  apply_limits(**built);
  return *built;
}

Config config_of(std::vector<RouteConfig> routes) {
  Config c;
  c.routes = std::move(routes);
  return c;
}

TEST(RouteReuse, AnUnchangedRouteKeepsItsRuntimeObjectAndAChangedOneIsNew) {
  StatsTable stats(1, "v");
  auto first = reload(stats,
                      config_of({route_config("web", {"a:1"}, "127.0.0.1:1"),
                                 route_config("api", {"b:2"}, "127.0.0.1:2")}),
                      nullptr);
  ASSERT_TRUE(first);
  auto second = reload(stats,
                       config_of({route_config("web", {"a:1"}, "127.0.0.1:1"),
                                  route_config("api", {"b:3"}, "127.0.0.1:2")}),
                       first.get());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->routes[0], first->routes[0]) << "the very object";
  EXPECT_TRUE(second->reused(0));
  EXPECT_NE(second->routes[1], first->routes[1]);
  EXPECT_FALSE(second->reused(1));
  EXPECT_EQ(second->routes[1]->admission, first->routes[1]->admission)
      << "a changed route still shares its count";
  EXPECT_EQ(second->routes[1]->queue, first->routes[1]->queue);
  EXPECT_EQ(&second->routes[0]->config, &second->config->routes[0])
      << "one copy of the unchanged route: the new configuration holds the running one's";
}

TEST(RouteReuse, AReusedRouteOutlivesTheConfigurationItWasBuiltWith) {
  StatsTable stats(1, "v");
  auto first = reload(stats, config_of({route_config("web", {"a:1"})}), nullptr);
  ASSERT_TRUE(first);
  RouteConfig moved = route_config("web", {"a:1"});
  moved.line = 40;  // an edit above it: runs the same, written elsewhere
  auto second = reload(stats, config_of({moved}), first.get());
  ASSERT_TRUE(second);
  ASSERT_EQ(second->routes[0], first->routes[0]);
  first.reset();  // the first configuration goes; its route object stays with the runtime
  EXPECT_EQ(second->routes[0]->config.name, "web");
  EXPECT_EQ(second->routes[0]->config.backends.at(0).name, "a:1");
  EXPECT_EQ(second->config->routes[0].line, 40) << "messages read the new lines";
}

// Counters, health, slots and the stats rows of an unchanged route carry on: the row is
// not reconciled or attached again, and the worker counts on the same shards.
TEST(RouteReuse, CountersAndHealthOfAnUnchangedRouteContinue) {
  StatsTable stats(1, "v");
  auto first = reload(stats,
                      config_of({route_config("web", {"a:1"}, "127.0.0.1:1"),
                                 route_config("api", {"b:2"}, "127.0.0.1:2")}),
                      nullptr);
  ASSERT_TRUE(first);
  RouteRuntime& web = *first->routes[0];
  stats_add(web.counters.route->shard(0).connections_total, 5);
  stats_add(web.counters.backends[0]->shard(0).connections_total, 4);
  ASSERT_TRUE(web.backends[0].health->record_failure(1'000'000));
  ASSERT_TRUE(web.backends[0].slots->try_acquire());

  auto second = reload(stats,
                       config_of({route_config("web", {"a:1"}, "127.0.0.1:1"),
                                  route_config("api", {"b:2", "c:3"}, "127.0.0.1:2")}),
                       first.get());
  ASSERT_TRUE(second);
  const RouteRuntime& kept = *second->routes[0];
  EXPECT_EQ(kept.counters.route, web.counters.route);
  EXPECT_EQ(kept.counters.backends[0], web.counters.backends[0]);
  EXPECT_EQ(kept.backends[0].slots->active(), 1u);
  stats_add(kept.counters.route->shard(0).connections_total, 1);
  StatsSnapshot s = stats.snapshot();
  ASSERT_EQ(s.routes.size(), 2u);
  EXPECT_EQ(s.routes[0].name, "web");
  EXPECT_EQ(s.routes[0].connections_total, 6u);
  EXPECT_EQ(s.routes[0].backends.at(0).connections_total, 4u);
  EXPECT_FALSE(s.routes[0].backends.at(0).up) << "its health shows, as before the reload";
  ASSERT_EQ(s.routes[1].backends.size(), 2u) << "the changed route's rows are reconciled";
  EXPECT_EQ(s.routes[1].backends[1].name, "c:3");
  EXPECT_EQ(second->routes[1]->counters.backends.size(), 2u);
  EXPECT_NE(second->routes[1]->counters.backends[1], nullptr);
}

// A route comes back after a reload that removed it: its row is revived and reconciled,
// its runtime built anew.
TEST(RouteReuse, ARouteRemovedAndAddedBackIsBuiltAndAttachedAgain) {
  StatsTable stats(1, "v");
  Config both = config_of(
      {route_config("web", {"a:1"}, "127.0.0.1:1"), route_config("api", {"b:2"}, "127.0.0.1:2")});
  auto first = reload(stats, both, nullptr);
  ASSERT_TRUE(first);
  auto without =
      reload(stats, config_of({route_config("web", {"a:1"}, "127.0.0.1:1")}), first.get());
  ASSERT_TRUE(without);
  auto again = reload(stats, both, without.get());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->routes[0], first->routes[0]);
  EXPECT_NE(again->routes[1], first->routes[1]);
  ASSERT_NE(again->routes[1]->counters.route, nullptr);
  ASSERT_EQ(again->routes[1]->counters.backends.size(), 1u);
  EXPECT_NE(again->routes[1]->counters.backends[0], nullptr);
}

// A route with a filter depends on more than its text: the file behind the name, and
// [global] plugin_dir, which it inherits. A file reload builds it again (loads the filter
// file again, as before); a DNS refresh keeps it as it runs.
TEST(RouteReuse, ARouteWithAFilterIsBuiltAgainOnAFileReloadAndKeptOnADnsRefresh) {
  const std::string plugins = (testing::source_root() / "c_plugins").string();
  ASSERT_TRUE(std::filesystem::exists(plugins + "/filter.so")) << "make builds it";
  RouteConfig filtered = route_config("f", {"a:1"});
  filtered.filter = "filter.so";
  filtered.filter_args = "upper";
  Config c = config_of({filtered, route_config("plain", {"b:2"}, "127.0.0.1:2")});
  c.global.plugin_dir = plugins;
  StatsTable stats(1, "v");
  auto first = reload(stats, c, nullptr);
  ASSERT_TRUE(first);
  ASSERT_NE(first->routes[0]->filter, nullptr);

  auto file_reload = reload(stats, c, first.get());
  ASSERT_TRUE(file_reload);
  EXPECT_NE(file_reload->routes[0], first->routes[0]);
  EXPECT_NE(file_reload->routes[0]->filter, first->routes[0]->filter) << "loaded again";
  EXPECT_EQ(file_reload->routes[1], first->routes[1]) << "the route without a filter stays";

  auto dns = reload(stats, c, file_reload.get(), FilterLoad::kKeepRunning);
  ASSERT_TRUE(dns);
  EXPECT_EQ(dns->routes[0], file_reload->routes[0]);
}

// The new caps of a changed route apply at the commit; an unchanged route's shared objects
// are not touched (its workers read them).
TEST(RouteReuse, LimitsApplyToChangedRoutesOnly) {
  StatsTable stats(1, "v");
  RouteConfig web = route_config("web", {"a:1"}, "127.0.0.1:1");
  web.backends[0].max_connections = 2;
  auto first = reload(stats, config_of({web}), nullptr);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->routes[0]->backends[0].slots->cap(), 2u);
  RouteConfig raised = web;
  raised.backends[0].max_connections = 7;
  auto second = reload(stats, config_of({raised}), first.get());
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->reused(0));
  EXPECT_EQ(second->routes[0]->backends[0].slots, first->routes[0]->backends[0].slots);
  EXPECT_EQ(second->routes[0]->backends[0].slots->cap(), 7u);
}

}  // namespace
}  // namespace arus
