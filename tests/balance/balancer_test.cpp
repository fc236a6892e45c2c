// Unit tests for Balancer: weights, health, avoid, the three modes, and the client hash.
#include "arus/balance/balancer.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace arus {
namespace {

constexpr uint64_t kNow = 10'000'000;
constexpr BalanceMode kAllModes[] = {BalanceMode::kRoundRobin, BalanceMode::kLeastConn,
                                     BalanceMode::kSourceHash};

struct Backends {
  explicit Backends(std::initializer_list<uint32_t> weights)
      : count(weights.size()), states(std::make_unique<BackendState[]>(weights.size())) {
    size_t i = 0;
    for (uint32_t w : weights) states[i++].weight = w;
  }
  void mark_down(size_t i) { states[i].health->record_failure(kNow); }
  // Opens `n` connections on backend i (takes n slots).
  void hold(size_t i, int n) {
    for (int k = 0; k < n; ++k) ASSERT_TRUE(states[i].slots->try_acquire());
  }
  const BackendState* get() const { return states.get(); }
  size_t count;
  std::unique_ptr<BackendState[]> states;
};

uint64_t client(uint32_t n) {
  uint32_t ip = htonl(0x0a000000u + n);  // 10.0.0.0 + n
  return hash_client_address(std::string_view(reinterpret_cast<const char*>(&ip), 4));
}

std::vector<int> count_picks(Balancer& balancer, const Backends& b, int picks, int avoid = -1) {
  std::vector<int> counts(b.count, 0);
  for (int i = 0; i < picks; ++i) {
    int chosen = balancer.pick(b.get(), b.count, kNow, client(static_cast<uint32_t>(i)), avoid);
    EXPECT_GE(chosen, 0);
    if (chosen >= 0) ++counts[static_cast<size_t>(chosen)];
  }
  return counts;
}

TEST(Balancer, RoundRobinIsExactOverEveryCycle) {
  Backends b{1, 2, 3};
  Balancer balancer(BalanceMode::kRoundRobin, b.count);
  // Every window of sum(weights) = 6 picks holds exactly the weights.
  for (int cycle = 0; cycle < 10'000; ++cycle) {
    std::vector<int> counts = count_picks(balancer, b, 6);
    ASSERT_EQ(counts, (std::vector<int>{1, 2, 3})) << "cycle " << cycle;
  }
}

TEST(Balancer, RoundRobinIsSmooth) {
  // nginx's example: weights {5, 1, 1} give a a b a c a a, not a a a a a b c.
  Backends b{5, 1, 1};
  Balancer balancer(BalanceMode::kRoundRobin, b.count);
  std::vector<int> order;
  for (int i = 0; i < 7; ++i) order.push_back(balancer.pick(b.get(), b.count, kNow, 0, -1));
  EXPECT_EQ(order, (std::vector<int>{0, 0, 1, 0, 2, 0, 0}));
}

TEST(Balancer, RoundRobinSixtyThousandPicksMatchWeights) {
  Backends b{5, 0, 1, 3, 256, 1};
  Balancer balancer(BalanceMode::kRoundRobin, b.count);
  const int total_weight = 5 + 1 + 3 + 256 + 1;  // 266
  const int cycles = 60'000 / total_weight;
  std::vector<int> counts = count_picks(balancer, b, cycles * total_weight);
  EXPECT_EQ(counts, (std::vector<int>{5 * cycles, 0, cycles, 3 * cycles, 256 * cycles, cycles}));
}

TEST(Balancer, SourceHashDistributionMatchesWeights) {
  Backends b{1, 2, 3, 0, 4};
  Balancer balancer(BalanceMode::kSourceHash, b.count);
  constexpr int kClients = 60'000;
  std::vector<int> counts = count_picks(balancer, b, kClients);
  const double total_weight = 10;
  const double weights[] = {1, 2, 3, 0, 4};
  for (size_t i = 0; i < b.count; ++i) {
    double expected = kClients * weights[i] / total_weight;
    EXPECT_NEAR(counts[i], expected, kClients * 0.01 + expected * 0.03) << "backend " << i;
  }
  EXPECT_EQ(counts[3], 0);
}

TEST(Balancer, SourceHashIsStickyAndMovesOnlyTheClientsOfALostBackend) {
  Backends b{1, 2, 1, 3};
  Balancer balancer(BalanceMode::kSourceHash, b.count);
  constexpr uint32_t kClients = 20'000;
  std::vector<int> before(kClients);
  for (uint32_t c = 0; c < kClients; ++c) {
    before[c] = balancer.pick(b.get(), b.count, kNow, client(c), -1);
    ASSERT_EQ(balancer.pick(b.get(), b.count, kNow, client(c), -1), before[c]) << "not sticky";
  }
  b.mark_down(1);
  std::vector<int> moved_to(b.count, 0);
  int moved = 0;
  for (uint32_t c = 0; c < kClients; ++c) {
    int now = balancer.pick(b.get(), b.count, kNow, client(c), -1);
    if (before[c] == 1) {
      ASSERT_NE(now, 1);
      ++moved_to[static_cast<size_t>(now)];
      ++moved;
    } else {
      ASSERT_EQ(now, before[c]) << "client " << c << " moved needlessly";
    }
  }
  // The orphans spread over the rest by weight (1 : 1 : 3).
  EXPECT_NEAR(moved_to[0], moved * 0.2, moved * 0.05);
  EXPECT_NEAR(moved_to[2], moved * 0.2, moved * 0.05);
  EXPECT_NEAR(moved_to[3], moved * 0.6, moved * 0.05);
  // Back up: everyone returns home.
  b.states[1].health->record_success();
  for (uint32_t c = 0; c < kClients; ++c) {
    ASSERT_EQ(balancer.pick(b.get(), b.count, kNow, client(c), -1), before[c]);
  }
}

TEST(Balancer, SourceHashFollowsBackendNamesAcrossReorder) {
  auto config = [](std::vector<std::string> names) {
    std::vector<BackendConfig> backends(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      backends[i].name = names[i];
      backends[i].weight = static_cast<uint32_t>(i + 1);
    }
    return backends;
  };
  auto first = config({"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"});
  auto second = config({"10.0.0.3:80", "10.0.0.1:80", "10.0.0.2:80"});
  // Same weights per name, so only the order differs.
  second[0].weight = 3;
  second[1].weight = 1;
  second[2].weight = 2;
  auto a = make_backend_states(first);
  auto b = make_backend_states(second);
  EXPECT_EQ(a[0].weight, 1u);
  EXPECT_EQ(a[2].weight, 3u);
  EXPECT_NE(a[0].hash_key, 0u);
  EXPECT_NE(a[0].hash_key, a[1].hash_key);
  EXPECT_EQ(a[0].hash_key, b[1].hash_key);
  Balancer pa(BalanceMode::kSourceHash, 3);
  Balancer pb(BalanceMode::kSourceHash, 3);
  for (uint32_t c = 0; c < 5000; ++c) {
    int ia = pa.pick(a.get(), 3, kNow, client(c), -1);
    int ib = pb.pick(b.get(), 3, kNow, client(c), -1);
    ASSERT_EQ(first[static_cast<size_t>(ia)].name, second[static_cast<size_t>(ib)].name);
  }
}

TEST(Balancer, LeastConnPicksLowestActivePerWeight) {
  Backends b{1, 1, 1};
  Balancer balancer(BalanceMode::kLeastConn, b.count);
  b.hold(0, 5);
  b.hold(1, 1);
  b.hold(2, 3);
  EXPECT_EQ(balancer.pick(b.get(), b.count, kNow, 0, -1), 1);
  // Weighted: 3/4 beats 1/1 and 2/2.
  Backends w{1, 4, 2};
  Balancer weighted(BalanceMode::kLeastConn, w.count);
  w.hold(0, 1);
  w.hold(1, 3);
  w.hold(2, 2);
  EXPECT_EQ(weighted.pick(w.get(), w.count, kNow, 0, -1), 1);
}

TEST(Balancer, LeastConnRotatesTies) {
  Backends b{1, 1, 1};
  Balancer balancer(BalanceMode::kLeastConn, b.count);
  std::vector<int> counts = count_picks(balancer, b, 3000);  // all idle: all tied
  EXPECT_EQ(counts, (std::vector<int>{1000, 1000, 1000}));
  // Ties between unequal weights share by weight.
  Backends w{1, 3};
  Balancer weighted(BalanceMode::kLeastConn, w.count);
  EXPECT_EQ(count_picks(weighted, w, 4000), (std::vector<int>{1000, 3000}));
}

TEST(Balancer, LeastConnKeepsLoadProportionalToWeight) {
  // Each pick opens a connection that stays open: active counts track the weights.
  Backends b{1, 2, 5};
  Balancer balancer(BalanceMode::kLeastConn, b.count);
  for (int i = 0; i < 8000; ++i) {
    int chosen = balancer.pick(b.get(), b.count, kNow, 0, -1);
    ASSERT_GE(chosen, 0);
    b.hold(static_cast<size_t>(chosen), 1);
  }
  EXPECT_EQ(b.states[0].slots->active(), 1000u);
  EXPECT_EQ(b.states[1].slots->active(), 2000u);
  EXPECT_EQ(b.states[2].slots->active(), 5000u);
}

TEST(Balancer, WeightZeroIsNeverPicked) {
  for (BalanceMode mode : kAllModes) {
    Backends b{0, 2, 0, 1};
    b.mark_down(1);
    b.mark_down(3);  // everything else down: still never the drained ones
    Balancer balancer(mode, b.count);
    std::vector<int> counts = count_picks(balancer, b, 3000);
    EXPECT_EQ(counts[0], 0);
    EXPECT_EQ(counts[2], 0);
    EXPECT_EQ(counts[1] + counts[3], 3000);
  }
}

TEST(Balancer, AllDrainedOrNoBackendsGivesMinusOne) {
  for (BalanceMode mode : kAllModes) {
    Backends b{0, 0};
    Balancer balancer(mode, b.count);
    EXPECT_EQ(balancer.pick(b.get(), b.count, kNow, client(1), -1), -1);
    EXPECT_EQ(balancer.pick(b.get(), b.count, kNow, client(1), 0), -1);
    Balancer empty(mode, 0);
    EXPECT_EQ(empty.pick(nullptr, 0, kNow, client(1), -1), -1);
  }
}

TEST(Balancer, DownBackendSkippedWhileAnotherIsUp) {
  for (BalanceMode mode : kAllModes) {
    Backends b{1, 5, 1};
    b.mark_down(1);
    Balancer balancer(mode, b.count);
    std::vector<int> counts = count_picks(balancer, b, 3000);
    EXPECT_EQ(counts[1], 0) << static_cast<int>(mode);
    EXPECT_GT(counts[0], 0);
    EXPECT_GT(counts[2], 0);
    // Once the back-off is over it is tried again.
    const uint64_t later = b.states[1].health->down_until_ms();
    int picked_again = 0;
    for (uint32_t c = 0; c < 3000; ++c) {
      picked_again += balancer.pick(b.get(), b.count, later, client(c), -1) == 1;
    }
    EXPECT_GT(picked_again, 0) << static_cast<int>(mode);
  }
}

TEST(Balancer, AllDownStillReturnsOnePreferringNotAvoid) {
  for (BalanceMode mode : kAllModes) {
    Backends b{1, 1, 1};
    for (size_t i = 0; i < b.count; ++i) b.mark_down(i);
    Balancer balancer(mode, b.count);
    std::vector<int> counts = count_picks(balancer, b, 300, /*avoid=*/0);
    EXPECT_EQ(counts[0], 0) << static_cast<int>(mode);
    EXPECT_EQ(counts[1] + counts[2], 300);
    // A single down backend is still tried.
    Backends one{4};
    one.mark_down(0);
    Balancer single(mode, 1);
    EXPECT_EQ(single.pick(one.get(), 1, kNow, client(1), 0), 0);
  }
}

TEST(Balancer, CheckedBackendsKnownDownAreNeverTried) {
  for (BalanceMode mode : kAllModes) {
    Backends b{1, 1, 1};
    for (size_t i = 0; i < b.count; ++i) b.states[i].health->set_actively_checked(true);
    b.mark_down(0);
    Balancer balancer(mode, b.count);
    // Long after the back-off: still down, only a check brings it back.
    std::vector<int> counts(b.count, 0);
    for (uint32_t c = 0; c < 300; ++c) {
      ++counts[static_cast<size_t>(balancer.pick(b.get(), b.count, kNow + 3'600'000, client(c), -1))];
    }
    EXPECT_EQ(counts[0], 0) << static_cast<int>(mode);
    // All down: refused (kNoneUp), on a first pick as on a retry.
    b.mark_down(1);
    b.mark_down(2);
    EXPECT_EQ(balancer.pick(b.get(), b.count, kNow, client(1), -1), Balancer::kNoneUp);
    EXPECT_EQ(balancer.pick(b.get(), b.count, kNow, client(1), 2), Balancer::kNoneUp);
    // Checked back up: picked again.
    b.states[1].health->mark_up_by_check();
    EXPECT_EQ(balancer.pick(b.get(), b.count, kNow, client(1), -1), 1);
  }
}

TEST(Balancer, AvoidIsHonoured) {
  for (BalanceMode mode : kAllModes) {
    Backends b{1, 3, 2};
    Balancer balancer(mode, b.count);
    for (int avoid = 0; avoid < 3; ++avoid) {
      std::vector<int> counts = count_picks(balancer, b, 600, avoid);
      EXPECT_EQ(counts[static_cast<size_t>(avoid)], 0) << static_cast<int>(mode);
    }
  }
  // source_hash sends a retry to the client's second choice, the same every time.
  Backends b{1, 1, 1, 1};
  Balancer balancer(BalanceMode::kSourceHash, b.count);
  for (uint32_t c = 0; c < 1000; ++c) {
    int home = balancer.pick(b.get(), b.count, kNow, client(c), -1);
    int retry = balancer.pick(b.get(), b.count, kNow, client(c), home);
    ASSERT_NE(retry, home);
    ASSERT_EQ(balancer.pick(b.get(), b.count, kNow, client(c), home), retry);
  }
}

TEST(Balancer, UpAvoidedBackendPreferredOverDownOnes) {
  for (BalanceMode mode : kAllModes) {
    Backends b{1, 1};
    b.mark_down(1);
    Balancer balancer(mode, b.count);
    // 0 just failed a connect but is not marked down (e.g. a reset); 1 is in back-off.
    EXPECT_EQ(balancer.pick(b.get(), b.count, kNow, client(7), 0), 0);
  }
}

TEST(Balancer, SingleBackendRetriedAtOnce) {
  for (BalanceMode mode : kAllModes) {
    Backends b{1};
    Balancer balancer(mode, 1);
    EXPECT_EQ(balancer.pick(b.get(), 1, kNow, client(3), -1), 0);
    EXPECT_EQ(balancer.pick(b.get(), 1, kNow, client(3), 0), 0);
  }
}

TEST(Balancer, HashClientAddressIsDeterministicAndMixesWell) {
  const unsigned char v4[4] = {192, 168, 1, 20};
  const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  auto hash = [](const unsigned char* p, size_t n) {
    return hash_client_address(std::string_view(reinterpret_cast<const char*>(p), n));
  };
  EXPECT_EQ(hash(v4, 4), hash(v4, 4));
  EXPECT_NE(hash(v4, 4), hash(v6, 16));
  EXPECT_NE(hash_client_address(""), hash_client_address(std::string_view("\0", 1)));
  // Flipping any one input bit flips about half the output bits.
  double total_flips = 0;
  int samples = 0;
  for (uint32_t n = 0; n < 500; ++n) {
    uint32_t ip = htonl(0x0a000000u + n);
    unsigned char bytes[4];
    std::memcpy(bytes, &ip, 4);
    uint64_t base = hash(bytes, 4);
    for (int bit = 0; bit < 32; ++bit) {
      unsigned char flipped[4];
      std::memcpy(flipped, bytes, 4);
      flipped[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
      int flips = std::popcount(base ^ hash(flipped, 4));
      ASSERT_GT(flips, 4);
      total_flips += flips;
      ++samples;
    }
  }
  EXPECT_NEAR(total_flips / samples, 32.0, 1.0);
}

TEST(Balancer, FewerBackendsThanConfiguredIsFine) {
  Backends b{1, 1, 1};
  Balancer balancer(BalanceMode::kRoundRobin, 5);
  std::vector<int> counts = count_picks(balancer, b, 300);
  EXPECT_EQ(counts, (std::vector<int>{100, 100, 100}));
}

TEST(Balancer, SkipsFullBackendsInEveryMode) {
  for (BalanceMode mode : kAllModes) {
    Backends b{1, 1, 1};
    b.states[0].slots->set_cap(2);
    b.states[2].slots->set_cap(1);
    b.hold(0, 2);
    b.hold(2, 1);
    Balancer balancer(mode, b.count);
    for (uint32_t c = 0; c < 50; ++c) {
      EXPECT_EQ(balancer.pick(b.get(), b.count, kNow, client(c), -1), 1);
    }
  }
}

TEST(Balancer, AllFullIsToldApartFromNoneSelectable) {
  Backends b{1, 0};
  b.states[0].slots->set_cap(1);
  Balancer balancer(BalanceMode::kRoundRobin, b.count);
  EXPECT_EQ(balancer.acquire(b.get(), b.count, kNow, 0, -1), 0);
  EXPECT_EQ(b.states[0].slots->active(), 1u);
  EXPECT_EQ(balancer.acquire(b.get(), b.count, kNow, 0, -1), Balancer::kAllFull);
  EXPECT_EQ(b.states[0].slots->active(), 1u);  // a refused acquire takes nothing
  Backends drained{0, 0};
  EXPECT_EQ(balancer.pick(drained.get(), drained.count, kNow, 0, -1), Balancer::kAllDrained);
  // A cap raised (a reload) makes room at once; a lowered cap cuts nothing.
  b.states[0].slots->set_cap(2);
  EXPECT_EQ(balancer.acquire(b.get(), b.count, kNow, 0, -1), 0);
  b.states[0].slots->set_cap(1);
  EXPECT_EQ(b.states[0].slots->active(), 2u);
  EXPECT_EQ(balancer.pick(b.get(), b.count, kNow, 0, -1), Balancer::kAllFull);
}

TEST(Balancer, FullUpBackendsAreNotBypassedForDownOnes) {
  // The up backend is full and the other is down: the client waits for the up one
  // rather than going to the dead one. With nothing up, a down one is still tried.
  Backends b{1, 1};
  b.states[0].slots->set_cap(1);
  b.hold(0, 1);
  b.mark_down(1);
  Balancer balancer(BalanceMode::kRoundRobin, b.count);
  EXPECT_EQ(balancer.pick(b.get(), b.count, kNow, 0, -1), Balancer::kAllFull);
  b.mark_down(0);
  EXPECT_EQ(balancer.pick(b.get(), b.count, kNow, 0, -1), 1);
}

TEST(Balancer, TakeFreeSlotPrefersTheLeastLoadedUpBackend) {
  Backends b{1, 1, 1};
  for (size_t i = 0; i < 3; ++i) b.states[i].slots->set_cap(3);
  b.hold(0, 1);
  b.hold(1, 2);
  b.mark_down(2);
  EXPECT_EQ(take_free_slot(b.get(), b.count, kNow), 0);
  EXPECT_EQ(take_free_slot(b.get(), b.count, kNow), 0);  // 1 vs 2: still 0, ties to first
  EXPECT_EQ(take_free_slot(b.get(), b.count, kNow), 1);
  EXPECT_EQ(take_free_slot(b.get(), b.count, kNow), -1);  // up ones full; down one skipped
  EXPECT_EQ(b.states[0].slots->active(), 3u);
  EXPECT_EQ(b.states[1].slots->active(), 3u);
}

}  // namespace
}  // namespace arus

namespace arus {
namespace {

TEST(BalancerAdmin, DrainedOrDisabledIsNeverPickedInAnyMode) {
  for (AdminState state : {AdminState::kDrain, AdminState::kDisabled}) {
    for (BalanceMode mode : kAllModes) {
      Backends b{1, 1};
      b.states[0].health->admin.set_state(state);
      Balancer balancer(mode, b.count);
      EXPECT_EQ(count_picks(balancer, b, 100), (std::vector<int>{0, 100}));
      // Not even when the other one is down: an operator's "out" is out.
      b.mark_down(1);
      EXPECT_EQ(count_picks(balancer, b, 10), (std::vector<int>{0, 10}));
    }
  }
}

TEST(BalancerAdmin, AllOutPicksNothing) {
  Backends b{1};
  b.states[0].health->admin.set_state(AdminState::kDrain);
  Balancer balancer(BalanceMode::kRoundRobin, b.count);
  EXPECT_EQ(balancer.pick(b.get(), b.count, kNow, 0, -1), -1);
  b.states[0].health->admin.reset();
  EXPECT_EQ(balancer.pick(b.get(), b.count, kNow, 0, -1), 0);
}

TEST(BalancerAdmin, WeightOverrideWinsUntilReset) {
  Backends b{1, 1};
  b.states[0].health->admin.set_weight(3);
  Balancer balancer(BalanceMode::kRoundRobin, b.count);
  EXPECT_EQ(count_picks(balancer, b, 400), (std::vector<int>{300, 100}));
  b.states[1].health->admin.set_weight(0);
  EXPECT_EQ(count_picks(balancer, b, 10), (std::vector<int>{10, 0}));
  b.states[0].health->admin.reset();
  b.states[1].health->admin.reset();
  EXPECT_EQ(count_picks(balancer, b, 10), (std::vector<int>{5, 5}));
}

// Issue 18: a DNS name's addresses are backends keyed by backend_key() (name and
// address), so with rendezvous hashing a client keeps its address while the name gains
// or loses others; only the clients of a vanished address move.
TEST(Balancer, SourceHashKeepsClientsOfAddressesThatStayWhenANameChanges) {
  auto line = [](std::vector<std::string> ips) {
    std::vector<BackendConfig> backends;
    for (const std::string& host : ips) {
      BackendConfig b;
      b.name = "db.internal:5432";
      b.by_name = true;
      b.address = resolve(HostPort{host, 5432}).value();
      backends.push_back(b);
    }
    return backends;
  };
  auto before = line({"10.0.0.1", "10.0.0.2", "10.0.0.3"});
  auto grown = line({"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"});
  auto shrunk = line({"10.0.0.1", "10.0.0.3"});
  auto a = make_backend_states(before);
  auto g = make_backend_states(grown);
  auto s = make_backend_states(shrunk);
  EXPECT_NE(a[0].hash_key, a[1].hash_key);  // one name, distinct identities
  Balancer pa(BalanceMode::kSourceHash, 3);
  Balancer pg(BalanceMode::kSourceHash, 4);
  Balancer ps(BalanceMode::kSourceHash, 2);
  int moved_to_new = 0;
  int moved_from_gone = 0;
  constexpr uint32_t kClients = 6000;
  for (uint32_t c = 0; c < kClients; ++c) {
    const std::string was =
        before[static_cast<size_t>(pa.pick(a.get(), 3, kNow, client(c), -1))].address.to_string();
    const std::string now_grown =
        grown[static_cast<size_t>(pg.pick(g.get(), 4, kNow, client(c), -1))].address.to_string();
    const std::string now_shrunk =
        shrunk[static_cast<size_t>(ps.pick(s.get(), 2, kNow, client(c), -1))].address.to_string();
    // Added address: a client either stays or moves to the new one, never elsewhere.
    if (now_grown != was) {
      EXPECT_EQ(now_grown, "10.0.0.4:5432") << "client " << c;
      ++moved_to_new;
    }
    // Removed address: only its clients move.
    if (was != "10.0.0.2:5432") {
      EXPECT_EQ(now_shrunk, was) << "client " << c;
    } else {
      ++moved_from_gone;
    }
  }
  // About a quarter moves to the new address, about a third had the removed one.
  EXPECT_GT(moved_to_new, static_cast<int>(kClients) / 8);
  EXPECT_LT(moved_to_new, static_cast<int>(kClients) / 2);
  EXPECT_GT(moved_from_gone, static_cast<int>(kClients) / 6);
}

}  // namespace
}  // namespace arus
