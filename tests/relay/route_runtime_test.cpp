// build_snapshot: what a reload carries over from the running snapshot to the new one.
#include "arus/relay/route_runtime.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../support/route_config.hpp"

namespace arus {
namespace {

using test::route_config;

std::shared_ptr<Snapshot> snapshot(std::vector<RouteConfig> routes,
                                   const Snapshot* previous = nullptr) {
  auto config = std::make_shared<Config>();
  config->routes = std::move(routes);
  auto built = build_snapshot(config, previous);
  EXPECT_TRUE(built.ok());
  return built ? *built : nullptr;
}

constexpr uint64_t kNow = 1'000'000;

// Without this, a reload during an outage made the dead backend look healthy again, and
// its recovery afterwards never set arus_backend_up back to 1.
TEST(BuildSnapshot, KeptBackendsKeepTheirHealthAcrossAReload) {
  auto first = snapshot({route_config("web", {"a:1", "b:2"})});
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->routes[0]->backends[1].health.record_failure(kNow));

  // Backends reordered, one added: health follows the name, not the position.
  auto second = snapshot({route_config("web", {"c:3", "b:2", "a:1"})}, first.get());
  ASSERT_TRUE(second);
  const RouteRuntime& web = *second->routes[0];
  EXPECT_EQ(web.backends[1].health.consecutive_failures(), 1u);
  EXPECT_FALSE(web.backends[1].health.is_up(kNow)) << "still in its back-off";
  EXPECT_EQ(web.backends[0].health.consecutive_failures(), 0u) << "a new backend starts up";
  EXPECT_EQ(web.backends[2].health.consecutive_failures(), 0u);
  EXPECT_TRUE(web.backends[1].health.record_success()) << "recovery is seen as one";
  EXPECT_EQ(web.admission, first->routes[0]->admission) << "and the route's count is shared";
}

TEST(BuildSnapshot, OtherRoutesStartAfresh) {
  auto first = snapshot({route_config("web", {"b:2"})});
  ASSERT_TRUE(first);
  first->routes[0]->backends[0].health.record_failure(kNow);
  auto second = snapshot({route_config("api", {"b:2"})}, first.get());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->routes[0]->backends[0].health.consecutive_failures(), 0u);
  EXPECT_NE(second->routes[0]->admission, first->routes[0]->admission);
}

}  // namespace
}  // namespace arus
