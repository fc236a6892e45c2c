// relocated(): a configuration parsed on another thread, copied into the caller's heap
// but for the routes it shares with the running configuration (RouteList::relocated).
#include "arus/config/config_relocation.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "../support/route_config.hpp"
#include "arus/config/route_sharing.hpp"

namespace arus {
namespace {

using test::route_config;

Config config_of(std::vector<RouteConfig> routes) {
  Config c;
  c.path = "/etc/arus-proxy/a-path-longer-than-any-inline-string.conf";
  c.source = std::string(4096, '#');
  c.global.plugin_dir = "/usr/lib/arus-proxy/a-folder-longer-than-inline";
  c.global.key_lines = {{"plugin_dir", 2}};
  c.routes = std::move(routes);
  return c;
}

TEST(ConfigRelocation, SharedRoutesStayTheRunningObjectsTheRestIsCopiedAndLeftWithTheParse) {
  Config running = config_of({route_config("web", {"a:1"}), route_config("api", {"b:2"})});
  Config parsed = config_of({route_config("web", {"a:1"}), route_config("api", {"b:3"})});
  ASSERT_EQ(share_unchanged_routes(parsed, running), 1u);
  const RouteConfig* parsed_api = &parsed.routes[1];  // not a shared_ptr: that would hold it

  Config here = relocated(parsed);

  ASSERT_EQ(here.routes.size(), 2u);
  EXPECT_EQ(here.routes.pointer(0), running.routes.pointer(0)) << "a shared route was copied";
  EXPECT_NE(&here.routes[1], parsed_api) << "the changed route is still the parse's object";
  EXPECT_EQ(here.routes[1].name, "api");
  EXPECT_EQ(here.routes[1].backends[0].name, "b:3");
  EXPECT_TRUE(same_route_settings(here.routes[1], *parsed_api));
  EXPECT_NE(here.routes[1].backends.data(), parsed_api->backends.data());

  // Every other field: equal, in buffers of its own.
  EXPECT_EQ(here.path, parsed.path);
  EXPECT_NE(here.path.data(), parsed.path.data());
  EXPECT_EQ(here.source, parsed.source);
  EXPECT_NE(here.source.data(), parsed.source.data());
  EXPECT_EQ(here.global.plugin_dir, parsed.global.plugin_dir);
  EXPECT_NE(here.global.plugin_dir.data(), parsed.global.plugin_dir.data());
  EXPECT_EQ(here.global.key_lines, parsed.global.key_lines);

  // The parse keeps its own objects, for the caller to free where they were made.
  ASSERT_EQ(parsed.routes.size(), 2u);
  EXPECT_EQ(&parsed.routes[1], parsed_api);
  EXPECT_EQ(parsed.routes.pointer(0), running.routes.pointer(0));
}

// Identity is what tells the snapshot builder and the stats table a route is unchanged:
// an object anybody else holds (another configuration, a runtime) is never replaced.
TEST(ConfigRelocation, ARouteObjectHeldElsewhereIsNeverReplaced) {
  Config parsed = config_of({route_config("web", {"a:1"}), route_config("api", {"b:2"})});
  std::shared_ptr<const RouteConfig> held = parsed.routes.pointer(0);
  const RouteConfig* only_parsed = &parsed.routes[1];
  Config here = relocated(parsed);
  EXPECT_EQ(here.routes.pointer(0), held);
  EXPECT_NE(&here.routes[1], only_parsed);
}

// As a reload does it: parsed and shared on a thread of its own, relocated on this one,
// what is left freed on a third; the configuration kept reads the same afterwards.
TEST(ConfigRelocation, WhatIsLeftOfTheParseCanBeFreedOnAnotherThread) {
  Config running = config_of({route_config("web", {"a:1"}), route_config("api", {"b:2"})});
  Config parsed;
  std::thread([&] {
    parsed = config_of({route_config("web", {"a:1"}), route_config("api", {"b:3"})});
    share_unchanged_routes(parsed, running);
  }).join();
  Config here = relocated(parsed);
  std::thread([leftover = std::move(parsed)] {}).join();
  EXPECT_EQ(here.routes.pointer(0), running.routes.pointer(0));
  EXPECT_EQ(here.routes[1].backends[0].name, "b:3");
  EXPECT_EQ(here.source, std::string(4096, '#'));
}

}  // namespace
}  // namespace arus
