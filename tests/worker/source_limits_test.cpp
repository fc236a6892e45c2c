// SourceTable (bounded, least recently seen forgotten first) and SourceLimits (the
// per-source and rate decisions, tokens taken only by admitted connections).
#include "arus/worker/source_limits.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>

namespace arus {
namespace {

std::string ipv4(uint32_t host_order) {
  uint32_t n = htonl(host_order);
  return std::string(reinterpret_cast<const char*>(&n), 4);
}

SourceKey key(uint32_t n) { return SourceKey::of(ipv4(n)); }

TEST(SourceTable, BoundedAndForgetsTheLeastRecentlySeenFirst) {
  SourceTable table(3);
  table.touch(key(1), 0, 0).active = 1;
  table.touch(key(2), 0, 0);
  table.touch(key(3), 0, 0);
  table.touch(key(1), 0, 0);  // seen again: now the most recent
  EXPECT_EQ(table.oldest()->key, key(2));
  table.touch(key(4), 0, 0);  // full: 2 goes
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.find(key(2)), nullptr);
  ASSERT_NE(table.find(key(1)), nullptr);
  EXPECT_EQ(table.find(key(1))->active, 1u);
  EXPECT_EQ(table.oldest()->key, key(3));
  table.touch(key(5), 0, 0);  // then 3
  EXPECT_EQ(table.find(key(3)), nullptr);
  EXPECT_EQ(table.touch(key(3), 0, 0).active, 0u);  // comes back fresh
}

TEST(SourceTable, AFloodOfSourcesStaysAtCapacity) {
  SourceTable table(1000);
  for (uint32_t i = 0; i < 100'000; ++i) table.touch(key(i), 5, i);
  EXPECT_EQ(table.size(), 1000u);
  for (uint32_t i = 99'000; i < 100'000; ++i) ASSERT_NE(table.find(key(i)), nullptr) << i;
  EXPECT_EQ(table.find(key(98'999)), nullptr);
}

TEST(SourceTable, IPv4AndIPv6KeysDiffer) {
  std::string v6(16, '\0');
  std::string v4(4, '\0');
  EXPECT_FALSE(SourceKey::of(v6) == SourceKey::of(v4));
}

LimitsConfig limits(uint64_t per_source, uint64_t rate, uint64_t rate_per_source) {
  LimitsConfig c;
  c.max_connections_per_source = per_source;
  c.rate_limit = rate;
  c.rate_limit_per_source = rate_per_source;
  return c;
}

TEST(SourceLimits, CapsOneSourceNotAnother) {
  SourceLimits l(limits(2, 0, 0), 0);
  const std::string a = ipv4(0x7f000002), b = ipv4(0x7f000003);
  EXPECT_EQ(l.admit(a, 0), SourceVerdict::kAdmit);
  EXPECT_EQ(l.admit(a, 0), SourceVerdict::kAdmit);
  EXPECT_EQ(l.admit(a, 0), SourceVerdict::kSourceLimit);
  EXPECT_EQ(l.admit(b, 0), SourceVerdict::kAdmit);
  l.release(a);
  EXPECT_EQ(l.admit(a, 0), SourceVerdict::kAdmit);
}

TEST(SourceLimits, RefusedConnectionsTakeNoToken) {
  // Route rate 3/s, one connection per source: refusals by the per-source cap leave the
  // route's tokens to others.
  SourceLimits l(limits(1, 3, 0), 0);
  const std::string a = ipv4(1);
  EXPECT_EQ(l.admit(a, 0), SourceVerdict::kAdmit);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(l.admit(a, 0), SourceVerdict::kSourceLimit);
  EXPECT_EQ(l.admit(ipv4(2), 0), SourceVerdict::kAdmit);
  EXPECT_EQ(l.admit(ipv4(3), 0), SourceVerdict::kAdmit);
  EXPECT_EQ(l.admit(ipv4(4), 0), SourceVerdict::kRateLimit);
  // The per-source bucket is not drained by route-rate refusals either.
  SourceLimits both(limits(0, 1, 1), 0);
  EXPECT_EQ(both.admit(ipv4(5), 0), SourceVerdict::kAdmit);
  EXPECT_EQ(both.admit(ipv4(6), 0), SourceVerdict::kRateLimit);
  EXPECT_EQ(both.admit(ipv4(6), 1000), SourceVerdict::kAdmit);  // 6's own token intact
  EXPECT_EQ(both.admit(ipv4(6), 2000), SourceVerdict::kAdmit);
  EXPECT_EQ(both.admit(ipv4(6), 2000), SourceVerdict::kRateLimit);
}

TEST(SourceLimits, RatePerSource) {
  SourceLimits l(limits(0, 0, 2), 0);
  EXPECT_EQ(l.admit(ipv4(1), 0), SourceVerdict::kAdmit);
  EXPECT_EQ(l.admit(ipv4(1), 0), SourceVerdict::kAdmit);
  EXPECT_EQ(l.admit(ipv4(1), 0), SourceVerdict::kSourceRateLimit);
  EXPECT_EQ(l.admit(ipv4(2), 0), SourceVerdict::kAdmit);
  EXPECT_EQ(l.admit(ipv4(1), 500), SourceVerdict::kAdmit);
}

TEST(SourceLimits, ReloadAppliesNewNumbersAndKeepsCounts) {
  SourceLimits l(limits(0, 0, 0), 0);
  EXPECT_EQ(l.admit(ipv4(1), 0), SourceVerdict::kAdmit);  // no limit: not counted
  l.set_config(limits(1, 0, 0));
  EXPECT_EQ(l.admit(ipv4(1), 0), SourceVerdict::kAdmit);
  EXPECT_EQ(l.admit(ipv4(1), 0), SourceVerdict::kSourceLimit);
  l.set_config(limits(0, 0, 0));
  l.release(ipv4(1));  // counted down even with the limit off
  l.set_config(limits(1, 0, 0));
  EXPECT_EQ(l.admit(ipv4(1), 0), SourceVerdict::kAdmit);
}

TEST(SourceLimits, StateIsBounded) {
  SourceLimits l(limits(5, 0, 0), 0, 100);
  for (uint32_t i = 0; i < 10'000; ++i) l.admit(ipv4(i), 0);
  EXPECT_EQ(l.tracked_sources(), 100u);
}

}  // namespace
}  // namespace arus
