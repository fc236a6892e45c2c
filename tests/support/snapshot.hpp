// A Snapshot built from routes as a reload builds it (build_snapshot), for tests of what
// a configuration becomes and what a reload carries over from `previous`.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <utility>
#include <vector>

#include "arus/config/config.hpp"
#include "arus/runtime/snapshot_builder.hpp"

namespace arus::test {

// Null (and a failed expectation) when the build fails.
inline std::shared_ptr<Snapshot> snapshot(std::vector<RouteConfig> routes,
                                          const Snapshot* previous = nullptr) {
  auto config = std::make_shared<Config>();
  config->routes = std::move(routes);
  auto built = build_snapshot(config, previous);
  EXPECT_TRUE(built.ok());
  return built ? *built : nullptr;
}

}  // namespace arus::test
