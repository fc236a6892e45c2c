// SourceTable (bounded, sources not seen lately forgotten first) and SourceLimits (the
// per-source and rate decisions, tokens taken only by admitted connections).
#include "arus/worker/source_limits.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace arus {
namespace {

std::string ipv4(uint32_t host_order) {
  uint32_t n = htonl(host_order);
  return std::string(reinterpret_cast<const char*>(&n), 4);
}

SourceKey key(uint32_t n) { return SourceKey::of(ipv4(n)); }

TEST(SourceTable, FullGivesASourceSeenAgainASecondChance) {
  SourceTable table(3);
  table.touch(key(1), 0, 0);
  table.touch(key(2), 0, 0);
  table.touch(key(3), 0, 0);
  // Every source seen since the hand last passed: it clears every mark in one lap, and
  // the first source after it goes.
  const SourceKey first = table.next_to_forget()->key;
  table.touch(key(4), 0, 0);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.find(first), nullptr);
  std::vector<SourceKey> kept;
  for (uint32_t k = 1; k <= 3; ++k) {
    if (table.find(key(k)) != nullptr) kept.push_back(key(k));
  }
  ASSERT_EQ(kept.size(), 2u);
  // The survivors lost their marks; the one seen again is kept, the other goes next.
  table.touch(kept[0], 0, 0);
  EXPECT_EQ(table.next_to_forget()->key, kept[1]);
  table.touch(key(5), 0, 0);
  EXPECT_EQ(table.find(kept[1]), nullptr);
  EXPECT_NE(table.find(kept[0]), nullptr);
  EXPECT_NE(table.find(key(4)), nullptr);
  EXPECT_NE(table.find(key(5)), nullptr);
  EXPECT_EQ(table.touch(kept[1], 0, 0).active, 0u);  // comes back fresh
}

TEST(SourceTable, ASourceWithOpenConnectionsIsKeptOverAnIdleOne) {
  SourceTable table(3);
  table.touch(key(1), 0, 0).active = 2;
  table.touch(key(2), 0, 0).active = 1;
  table.touch(key(3), 0, 0);
  table.touch(key(4), 0, 0);  // full: 3 is the only idle source
  EXPECT_EQ(table.find(key(3)), nullptr);
  ASSERT_NE(table.find(key(1)), nullptr);
  EXPECT_EQ(table.find(key(1))->active, 2u);
  ASSERT_NE(table.find(key(2)), nullptr);
  EXPECT_EQ(table.find(key(2))->active, 1u);
}

TEST(SourceTable, BusySourcesStillMakeRoom) {
  // Every source has open connections: the hand passes over a bounded number, then one
  // goes (its count restarts), so a new source always gets an entry.
  SourceTable table(200);
  for (uint32_t i = 0; i < 200; ++i) table.touch(key(i), 0, 0).active = 1;
  for (uint32_t i = 200; i < 1200; ++i) {
    table.touch(key(i), 0, 0).active = 1;
    ASSERT_EQ(table.size(), 200u);
    ASSERT_NE(table.find(key(i)), nullptr);
  }
}

TEST(SourceTable, AFloodOfSourcesStaysAtCapacity) {
  SourceTable table(1000);
  for (uint32_t i = 0; i < 100'000; ++i) table.touch(key(i), 5, i);
  EXPECT_EQ(table.size(), 1000u);
  EXPECT_LE(table.slot_count(), 2048u);  // at most half full, never more memory
  // The newest source is always there; of the older ones, those the hand passed twice.
  EXPECT_NE(table.find(key(99'999)), nullptr);
  size_t remembered = 0;
  for (uint32_t i = 0; i < 100'000; ++i) remembered += table.find(key(i)) != nullptr;
  EXPECT_EQ(remembered, 1000u);
}

TEST(SourceTable, GrowsPastTheHugePageSizeAndKeepsEverySource) {
  // 20,000 sources: the array doubles up to 65,536 slots (4 MiB, in huge pages).
  SourceTable table(20'000);
  for (uint32_t i = 0; i < 20'000; ++i) table.touch(key(i), 0, 0).active = i % 7;
  EXPECT_EQ(table.slot_count(), 65'536u);
  EXPECT_EQ(table.size(), 20'000u);
  for (uint32_t i = 0; i < 20'000; ++i) {
    SourceEntry* e = table.find(key(i));
    ASSERT_NE(e, nullptr) << i;
    ASSERT_EQ(e->active, i % 7) << i;
  }
}

TEST(SourceTable, ASourceSeenOftenSurvivesAFlood) {
  SourceTable table(1000);
  table.touch(key(0xfffffff), 0, 0);
  for (uint32_t i = 0; i < 100'000; ++i) {
    table.touch(key(i), 0, 0);
    if (i % 100 == 0) table.touch(key(0xfffffff), 0, 0);  // far more often than a lap
  }
  EXPECT_NE(table.find(key(0xfffffff)), nullptr);
}

// Keys whose probe starts at `slot` of a table with `seed` and that many slots.
std::vector<SourceKey> keys_homed_at(size_t slot, uint64_t seed, size_t capacity, size_t count) {
  SourceTable probe(capacity, seed);
  probe.touch(key(0xffffffff), 0, 0);  // allocates the array the test will use
  std::vector<SourceKey> found;
  for (uint32_t i = 0; found.size() < count; ++i) {
    if (probe.home_slot(key(i)) == slot) found.push_back(key(i));
  }
  return found;
}

TEST(SourceTable, CollidingKeysWrapAroundTheEnd) {
  constexpr uint64_t kSeed = 42;
  SourceTable table(8, kSeed);  // 16 slots
  table.touch(key(0xffffffff), 0, 0);
  ASSERT_EQ(table.slot_count(), 16u);
  const auto keys = keys_homed_at(15, kSeed, 8, 4);
  for (size_t i = 0; i < 3; ++i) table.touch(keys[i], 0, 0).active = static_cast<uint32_t>(i + 1);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_NE(table.find(keys[i]), nullptr) << i;
    EXPECT_EQ(table.find(keys[i])->active, i + 1);
  }
  EXPECT_EQ(table.find(keys[3]), nullptr);  // same home, not there: the run ends it
  EXPECT_EQ(table.size(), 4u);
}

// A model checks the table through many evictions in a small, crowded array: lookups
// across runs that wrap, entries shifted back after a deletion, growth.
TEST(SourceTable, MatchesAModelThroughEvictionsAndShifts) {
  // Capacity 8 stays in 16 slots; capacity 20 grows from 16 to 64 on the way.
  for (const auto& [capacity, keys, seed] : {std::tuple<size_t, uint32_t, uint64_t>{8, 24, 1},
                                             {8, 24, 2}, {8, 24, 3}, {20, 60, 4}, {20, 60, 5}}) {
    SourceTable table(capacity, seed);
    std::map<uint32_t, uint32_t> model;  // source -> its open connections
    uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int step = 0; step < 20'000; ++step) {
      rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
      const uint32_t k = static_cast<uint32_t>(rng % keys);
      if (rng % 5 == 0) {  // a connection closes
        SourceEntry* e = table.find(key(k));
        ASSERT_EQ(e != nullptr, model.count(k) == 1) << step;
        if (e != nullptr && e->active > 0) {
          --e->active;
          --model[k];
        }
        continue;
      }
      if (model.count(k) == 0 && model.size() == capacity) {
        const SourceEntry* victim = table.next_to_forget();
        ASSERT_NE(victim, nullptr);
        uint32_t gone = 0;
        for (const auto& [m, active] : model) {
          if (SourceKey::of(ipv4(m)) == victim->key) gone = m;
        }
        model.erase(gone);
      }
      SourceEntry& e = table.touch(key(k), 0, 0);
      if (rng % 3 == 0) ++e.active;
      model[k] = e.active;
      ASSERT_EQ(table.size(), model.size()) << step;
      for (uint32_t m = 0; m < keys; ++m) {
        SourceEntry* found = table.find(key(m));
        ASSERT_EQ(found != nullptr, model.count(m) == 1) << "step " << step << " key " << m;
        if (found != nullptr) {
          ASSERT_EQ(found->active, model[m]) << step;
        }
      }
    }
  }
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
