// plan_reload: every kind of change between two configurations, and its JSON.
#include "arus/app/reload_plan.hpp"

#include <gtest/gtest.h>

#include <string>

#include "../support/config_text.hpp"
#include "arus/config/ini_loader.hpp"

namespace arus {
namespace {

using Items = std::vector<ReloadPlan::RouteItem>;
using Strings = std::vector<std::string>;

Config parse(const std::string& text) {
  Result<Config> config = parse_config(text, "p.conf");
  EXPECT_TRUE(config.ok()) << config.error().message;
  return config ? std::move(config).value() : Config{};
}

const std::string kGlobal = "[global]\nworkers = 2\n";
const std::string kWeb =
    "[route:web]\nlisten = 127.0.0.1:8080\nbackend = 127.0.0.1:9001\nbackend = 127.0.0.1:9002\n";
const std::string kDb = "[route:db]\nlisten = 127.0.0.1:5432\nbackend = 127.0.0.1:6432\n";

ReloadPlan plan(const std::string& before, const std::string& after, LiveConnections live = {}) {
  return plan_reload(parse(before), parse(after), live);
}

TEST(ReloadPlan, SameTextChangesNothing) {
  ReloadPlan p = plan(kGlobal + kWeb, kGlobal + kWeb, {{"web", 3}});
  EXPECT_FALSE(p.changes_anything());
  EXPECT_EQ(p.listeners_kept, Strings{"127.0.0.1:8080"});
  ASSERT_EQ(p.connections_staying_on_old_generation.size(), 1u);
  EXPECT_EQ(p.connections_staying_on_old_generation[0].first, "web");
  EXPECT_EQ(p.connections_staying_on_old_generation[0].second, 3u);
}

TEST(ReloadPlan, CommentsAndSpacingChangeNothing) {
  ReloadPlan p = plan(kGlobal + kWeb, "; a comment\n" + kGlobal + "\n" +
                                         "[route:web]\nlisten   =  127.0.0.1:8080 ; here\n"
                                         "backend = 127.0.0.1:9001\nbackend = 127.0.0.1:9002\n");
  EXPECT_FALSE(p.changes_anything()) << render_plan_json(p);
}

TEST(ReloadPlan, IndentedKeysAreKeysOfTheirOwn) {
  ReloadPlan p = plan(kGlobal + kWeb, kGlobal + kWeb + "  retries = 5\n");
  ASSERT_EQ(p.routes_changed.size(), 1u);
  EXPECT_EQ(p.routes_changed[0].keys, Strings{"retries"});
}

TEST(ReloadPlan, RouteAdded) {
  ReloadPlan p = plan(kGlobal + kWeb, kGlobal + kWeb + kDb);
  EXPECT_TRUE(p.changes_anything());
  EXPECT_EQ(p.routes_added, Strings{"db"});
  EXPECT_TRUE(p.routes_removed.empty());
  EXPECT_TRUE(p.routes_changed.empty());
  EXPECT_EQ(p.listeners_bound, Strings{"127.0.0.1:5432"});
  EXPECT_EQ(p.listeners_kept, Strings{"127.0.0.1:8080"});
  EXPECT_EQ(p.backends_added, (Items{{"db", "127.0.0.1:6432"}}));
}

TEST(ReloadPlan, RouteRemoved) {
  ReloadPlan p = plan(kGlobal + kWeb + kDb, kGlobal + kWeb, {{"web", 1}, {"db", 7}});
  EXPECT_EQ(p.routes_removed, Strings{"db"});
  EXPECT_EQ(p.listeners_closed, Strings{"127.0.0.1:5432"});
  EXPECT_EQ(p.backends_removed, (Items{{"db", "127.0.0.1:6432"}}));
  ASSERT_EQ(p.connections_staying_on_old_generation.size(), 2u);
  EXPECT_EQ(p.connections_staying_on_old_generation[1].first, "db");
  EXPECT_EQ(p.connections_staying_on_old_generation[1].second, 7u);
}

TEST(ReloadPlan, RouteRenamedKeepsItsListener) {
  std::string renamed = kWeb;
  renamed.replace(renamed.find("web"), 3, "www");
  ReloadPlan p = plan(kGlobal + kWeb, kGlobal + renamed);
  EXPECT_EQ(p.routes_added, Strings{"www"});
  EXPECT_EQ(p.routes_removed, Strings{"web"});
  EXPECT_EQ(p.listeners_kept, Strings{"127.0.0.1:8080"});
  EXPECT_TRUE(p.listeners_bound.empty());
  EXPECT_TRUE(p.listeners_closed.empty());
  EXPECT_EQ(p.backends_added.size(), 2u);
  EXPECT_EQ(p.backends_removed.size(), 2u);
}

TEST(ReloadPlan, ListenMoved) {
  ReloadPlan p = plan(kGlobal + kWeb,
                      kGlobal + "[route:web]\nlisten = 127.0.0.1:8081\n"
                                "backend = 127.0.0.1:9001\nbackend = 127.0.0.1:9002\n");
  ASSERT_EQ(p.routes_changed.size(), 1u);
  EXPECT_EQ(p.routes_changed[0].name, "web");
  EXPECT_EQ(p.routes_changed[0].keys, Strings{"listen"});
  EXPECT_EQ(p.listeners_bound, Strings{"127.0.0.1:8081"});
  EXPECT_EQ(p.listeners_closed, Strings{"127.0.0.1:8080"});
  EXPECT_TRUE(p.listeners_kept.empty());
}

TEST(ReloadPlan, ListenRespeltIsKept) {
  ReloadPlan p = plan(kGlobal + kWeb,
                      kGlobal + "[route:web]\nlisten = localhost:8080\n"
                                "backend = 127.0.0.1:9001\nbackend = 127.0.0.1:9002\n");
  EXPECT_EQ(p.listeners_kept, Strings{"localhost:8080"});
  EXPECT_TRUE(p.listeners_bound.empty());
  EXPECT_TRUE(p.listeners_closed.empty());
  ASSERT_EQ(p.routes_changed.size(), 1u);  // the text did change
}

TEST(ReloadPlan, BackendAddedAndRemoved) {
  ReloadPlan p = plan(kGlobal + kWeb,
                      kGlobal + "[route:web]\nlisten = 127.0.0.1:8080\n"
                                "backend = 127.0.0.1:9001\nbackend = 127.0.0.1:9003\n");
  EXPECT_EQ(p.backends_added, (Items{{"web", "127.0.0.1:9003"}}));
  EXPECT_EQ(p.backends_removed, (Items{{"web", "127.0.0.1:9002"}}));
  ASSERT_EQ(p.routes_changed.size(), 1u);
  EXPECT_EQ(p.routes_changed[0].keys, Strings{"backend"});
}

TEST(ReloadPlan, BackendReweightedIsAChangedKeyOnly) {
  ReloadPlan p = plan(kGlobal + kWeb,
                      kGlobal + "[route:web]\nlisten = 127.0.0.1:8080\n"
                                "backend = 127.0.0.1:9001 weight=3\nbackend = 127.0.0.1:9002\n");
  EXPECT_TRUE(p.backends_added.empty());
  EXPECT_TRUE(p.backends_removed.empty());
  ASSERT_EQ(p.routes_changed.size(), 1u);
  EXPECT_EQ(p.routes_changed[0].keys, Strings{"backend"});
}

TEST(ReloadPlan, SeveralKeysChangedAreSorted) {
  ReloadPlan p = plan(kGlobal + kWeb, kGlobal + kWeb + "retries = 5\nbalance = least_conn\n");
  ASSERT_EQ(p.routes_changed.size(), 1u);
  EXPECT_EQ(p.routes_changed[0].keys, (Strings{"balance", "retries"}));
}

const std::string kFiltered = kWeb + "filter = filter.so\nfilter_args = upper\n";

TEST(ReloadPlan, FilterLoaded) {
  ReloadPlan p = plan(kGlobal + kWeb, kGlobal + kFiltered);
  EXPECT_EQ(p.filters_loaded, (Items{{"web", "filter.so"}}));
  EXPECT_EQ(p.routes_changed[0].keys, (Strings{"filter", "filter_args"}));
}

TEST(ReloadPlan, FilterArgsChangedSwapsIt) {
  std::string other = kFiltered;
  other.replace(other.find("upper"), 5, "block=x");
  ReloadPlan p = plan(kGlobal + kFiltered, kGlobal + other);
  EXPECT_EQ(p.filters_swapped, (Items{{"web", "filter.so"}}));
  EXPECT_TRUE(p.filters_loaded.empty());
  EXPECT_TRUE(p.filters_unloaded.empty());
}

TEST(ReloadPlan, FilterFileSwapped) {
  std::string other = kFiltered;
  other.replace(other.find("filter.so"), 9, "other.so");
  ReloadPlan p = plan(kGlobal + kFiltered, kGlobal + other);
  EXPECT_EQ(p.filters_swapped, (Items{{"web", "other.so"}}));
}

TEST(ReloadPlan, PluginDirChangedSwapsEveryFilter) {
  ReloadPlan p = plan(kGlobal + kFiltered, kGlobal + "plugin_dir = /opt/f\n" + kFiltered);
  EXPECT_EQ(p.filters_swapped, (Items{{"web", "filter.so"}}));
  EXPECT_EQ(p.global_changed, Strings{"plugin_dir"});
}

TEST(ReloadPlan, FilterRemovedUnloadsIt) {
  ReloadPlan p = plan(kGlobal + kFiltered, kGlobal + kWeb);
  EXPECT_EQ(p.filters_unloaded, (Items{{"web", "filter.so"}}));
}

TEST(ReloadPlan, RemovedRouteUnloadsItsFilter) {
  ReloadPlan p = plan(kGlobal + kDb + kFiltered, kGlobal + kDb);
  EXPECT_EQ(p.filters_unloaded, (Items{{"web", "filter.so"}}));
}

TEST(ReloadPlan, RestartOnlyKeys) {
  ReloadPlan p = plan(kGlobal + kWeb, "[global]\nworkers = 4\nuser = nobody\n" + kWeb);
  EXPECT_EQ(p.restart_needed, (Strings{"workers", "user"}));
  EXPECT_EQ(p.global_changed, (Strings{"user", "workers"}));
  EXPECT_TRUE(p.changes_anything());
  ReloadPlan group = plan(kGlobal + "user = nobody\n" + kWeb,
                          kGlobal + "user = nobody\ngroup = nogroup\n" + kWeb);
  EXPECT_EQ(group.restart_needed, Strings{"group"});
}

TEST(ReloadPlan, GlobalKeysAReloadApplies) {
  ReloadPlan p = plan(kGlobal + kWeb, kGlobal + "log_level = debug\ngrace_period_ms = 5\n" + kWeb);
  EXPECT_EQ(p.global_changed, (Strings{"grace_period_ms", "log_level"}));
  EXPECT_TRUE(p.restart_needed.empty());
  EXPECT_TRUE(p.changes_anything());
}

TEST(ReloadPlan, Json) {
  ReloadPlan p = plan(kGlobal + kWeb + kFiltered.substr(0, 0), kGlobal + kWeb + kDb +
                                                                   "filter = filter.so\n",
                      {{"web", 2}});
  EXPECT_EQ(render_plan_json(p),
            "{\"routes\": {\"added\": [\"db\"], \"removed\": [], \"changed\": []}, "
            "\"listeners\": {\"bound\": [\"127.0.0.1:5432\"], \"kept\": [\"127.0.0.1:8080\"], "
            "\"closed\": []}, "
            "\"backends\": {\"added\": [{\"route\": \"db\", \"backend\": \"127.0.0.1:6432\"}], "
            "\"removed\": []}, "
            "\"filters\": {\"loaded\": [{\"route\": \"db\", \"filter\": \"filter.so\"}], "
            "\"swapped\": [], \"unloaded\": []}, "
            "\"global\": {\"changed\": []}, \"restart_needed\": [], "
            "\"connections_staying_on_old_generation\": {\"web\": 2}}");
}

TEST(ReloadPlan, JsonEscapesNames) {
  ReloadPlan p;
  p.routes_added.push_back("a\"b");
  EXPECT_NE(render_plan_json(p).find("[\"a\\\"b\"]"), std::string::npos);
}

// Many routes, few changed: the plan names exactly the changed ones (sections of equal
// text are skipped without being parsed).
TEST(ReloadPlan, ManyRoutesFewChanged) {
  auto config = [](int changed_port) {
    std::string text = kGlobal;
    for (int i = 0; i < 300; ++i) {
      text += "[route:r" + std::to_string(i) + "]\nlisten = 127.0.0.1:" +
              std::to_string(20000 + i) + "\nbackend = 127.0.0.1:" +
              std::to_string(i == 17 ? changed_port : 30000 + i) + "\n";
    }
    return text;
  };
  ReloadPlan p = plan(config(30017), config(40017));
  ASSERT_EQ(p.routes_changed.size(), 1u) << render_plan_json(p);
  EXPECT_EQ(p.routes_changed[0].name, "r17");
  EXPECT_EQ(p.routes_changed[0].keys, Strings{"backend"});
  EXPECT_EQ(p.listeners_kept.size(), 300u);
  EXPECT_TRUE(p.listeners_bound.empty());
  EXPECT_TRUE(p.global_changed.empty());
}

// Where the sections cannot be told apart by their text (here a header with a name inih
// truncates), the whole files are compared: the same plan either way.
TEST(ReloadPlan, UnsureSectionTextFallsBackToWholeFiles) {
  const std::string long_route = "[route:" + std::string(60, 'x') + "]\n"
                                 "listen = 127.0.0.1:7000\nbackend = 127.0.0.1:7001\n";
  ReloadPlan p = plan(kGlobal + kWeb + long_route,
                      "[global]\nworkers = 3\n" + kWeb + "retries = 2\n" + long_route);
  ASSERT_EQ(p.routes_changed.size(), 1u) << render_plan_json(p);
  EXPECT_EQ(p.routes_changed[0].keys, Strings{"retries"});
  EXPECT_EQ(p.global_changed, Strings{"workers"});
}

TEST(ReloadPlan, GlobalSectionAddedIsAChange) {
  ReloadPlan p = plan(kWeb, kGlobal + kWeb);
  EXPECT_EQ(p.global_changed, Strings{"workers"});
  EXPECT_TRUE(p.routes_changed.empty());
}

}  // namespace
}  // namespace arus
