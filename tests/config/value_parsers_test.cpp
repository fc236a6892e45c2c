// Tests for the single-value parsers behind the configuration loader.
#include "arus/config/value_parsers.hpp"

#include <gtest/gtest.h>

namespace arus {
namespace {

TEST(ValueParsers, UnsignedBounds) {
  EXPECT_EQ(parse_uint("0", 0, 5).value(), 0u);
  EXPECT_EQ(parse_uint("005", 0, 5).value(), 5u);
  EXPECT_EQ(parse_uint("18446744073709551615", 0, UINT64_MAX).value(), UINT64_MAX);
  EXPECT_EQ(parse_uint("18446744073709551616", 0, UINT64_MAX).error().message,
            "18446744073709551616 out of range (0-18446744073709551615)");
  EXPECT_EQ(parse_uint("6", 0, 5).error().message, "6 out of range (0-5)");
  EXPECT_EQ(parse_uint(" 1", 0, 5).error().message, "' 1' is not a number (digits only)");
}

TEST(ValueParsers, Backend) {
  Result<BackendSpec> plain = parse_backend("127.0.0.1:80");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->name, "127.0.0.1:80");
  EXPECT_EQ(plain->weight, 1u);
  Result<BackendSpec> weighted = parse_backend("[::1]:80 \t weight=256");
  ASSERT_TRUE(weighted.ok());
  EXPECT_EQ(weighted->name, "[::1]:80");
  EXPECT_EQ(weighted->address.to_string(), "[::1]:80");
  EXPECT_EQ(weighted->weight, 256u);
}

TEST(ValueParsers, ResolveRelativePath) {
  EXPECT_EQ(resolve_relative_path("conf/proxy.conf", "c_plugins"), "conf/c_plugins");
  EXPECT_EQ(resolve_relative_path("proxy.conf", "c_plugins"), "./c_plugins");
  EXPECT_EQ(resolve_relative_path("./proxy.conf", "c_plugins"), "./c_plugins");
  EXPECT_EQ(resolve_relative_path("conf/proxy.conf", "/abs/dir/"), "/abs/dir");
  EXPECT_EQ(resolve_relative_path("conf/proxy.conf", "/"), "/");
  EXPECT_EQ(resolve_relative_path("/proxy.conf", "p"), "/p");
}

TEST(ValueParsers, StatsListen) {
  Result<SocketAddress> off = parse_stats_listen("");
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE(off->empty());
  Result<SocketAddress> on = parse_stats_listen("127.0.0.1:9090");
  ASSERT_TRUE(on.ok());
  EXPECT_EQ(on->to_string(), "127.0.0.1:9090");
  Result<SocketAddress> bad = parse_stats_listen("127.0.0.1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "missing port");
}

TEST(ValueParsers, NamesRoundTrip) {
  for (BalanceMode mode :
       {BalanceMode::kRoundRobin, BalanceMode::kLeastConn, BalanceMode::kSourceHash}) {
    Result<BalanceMode> parsed = parse_balance(balance_name(mode));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed.value(), mode);
  }
}

}  // namespace
}  // namespace arus
