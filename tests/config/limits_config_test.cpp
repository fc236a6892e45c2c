// Tests for the limits keys: the per-backend cap option and the route's LimitsConfig.
#include <gtest/gtest.h>

#include "arus/config/ini_loader.hpp"

#include "../support/config_text.hpp"

namespace arus {
namespace {

using test::lines;

const std::string kRoute = lines({"[route:db]", "listen = 127.0.0.1:8080"});

std::string error_of(const std::string& line) {
  Result<Config> r = parse_config(kRoute + "backend = 127.0.0.1:9001\n" + line + "\n",
                                  "proxy.conf");
  return r ? "OK" : r.error().message;
}

TEST(LimitsConfig, DefaultsAreOff) {
  Result<Config> c = parse_config(kRoute + "backend = 127.0.0.1:9001\n", "proxy.conf");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->routes[0].backends[0].max_connections, 0u);
  EXPECT_EQ(c->routes[0].limits, LimitsConfig{});
  EXPECT_FALSE(c->routes[0].limits.any_admission_limit());
}

TEST(LimitsConfig, ParsesEveryKey) {
  Result<Config> c = parse_config(
      kRoute + lines({"backend = 127.0.0.1:9001 max_connections=50",
                      "backend = 127.0.0.1:9002 weight=3 max_connections=7",
                      "backend = 127.0.0.1:9003 max_connections=0\tweight=0",
                      "queue_timeout_ms = 2000", "max_connections_per_source = 4",
                      "rate_limit = 100", "rate_limit_per_source = 5"}),
      "proxy.conf");
  ASSERT_TRUE(c) << c.error().message;
  const RouteConfig& r = c->routes[0];
  EXPECT_EQ(r.backends[0].max_connections, 50u);
  EXPECT_EQ(r.backends[0].weight, 1u);
  EXPECT_EQ(r.backends[1].max_connections, 7u);
  EXPECT_EQ(r.backends[1].weight, 3u);
  EXPECT_EQ(r.backends[2].max_connections, 0u);
  EXPECT_EQ(r.backends[2].weight, 0u);
  EXPECT_EQ(r.limits.queue_timeout_ms, 2000u);
  EXPECT_EQ(r.limits.max_connections_per_source, 4u);
  EXPECT_EQ(r.limits.rate_limit, 100u);
  EXPECT_EQ(r.limits.rate_limit_per_source, 5u);
  EXPECT_TRUE(r.limits.per_source());
  EXPECT_EQ(r.key_lines.at("rate_limit"), 8);
}

TEST(LimitsConfig, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(error_of("backend = 127.0.0.1:9002 max_connections=x"),
            "proxy.conf:4: [route:db] backend: max_connections 'x' is not a number (digits "
            "only)");
  EXPECT_EQ(error_of("backend = 127.0.0.1:9002 max_connections=10000001"),
            "proxy.conf:4: [route:db] backend: max_connections 10000001 out of range "
            "(0-10000000)");
  EXPECT_EQ(error_of("backend = 127.0.0.1:9002 max_connections="),
            "proxy.conf:4: [route:db] backend: max_connections= without a number (expected "
            "max_connections=N)");
  EXPECT_EQ(error_of("backend = 127.0.0.1:9002 max_connections=1 max_connections=2"),
            "proxy.conf:4: [route:db] backend: max_connections= given twice");
  EXPECT_EQ(error_of("backend = 127.0.0.1:9002 maxconn=2"),
            "proxy.conf:4: [route:db] backend: unexpected 'maxconn=2' after the address "
            "(expected weight=N or max_connections=N)");
  EXPECT_EQ(error_of("queue_timeout_ms = 604800001"),
            "proxy.conf:4: [route:db] queue_timeout_ms: 604800001 out of range (0-604800000)");
  EXPECT_EQ(error_of("max_connections_per_source = -1"),
            "proxy.conf:4: [route:db] max_connections_per_source: '-1' is not a number "
            "(digits only)");
  EXPECT_EQ(error_of("rate_limit = 10000001"),
            "proxy.conf:4: [route:db] rate_limit: 10000001 out of range (0-10000000)");
  EXPECT_EQ(error_of("rate_limit_per_source = fast"),
            "proxy.conf:4: [route:db] rate_limit_per_source: 'fast' is not a number (digits "
            "only)");
  EXPECT_EQ(error_of("rate_limit = 1\nrate_limit = 2"),
            "proxy.conf:5: [route:db] rate_limit: given twice (first at line 4)");
  EXPECT_EQ(error_of("[global]\nrate_limit = 1"),
            "proxy.conf:5: [global] rate_limit: unknown key");
}

}  // namespace
}  // namespace arus
