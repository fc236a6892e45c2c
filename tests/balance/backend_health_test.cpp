// Unit tests for BackendHealth (back-off, reset, concurrent updates, one state shared by
// configuration generations) and for building BackendState in place.
#include "arus/balance/backend_health.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <latch>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

namespace arus {
namespace {

constexpr uint64_t kNow = 5'000'000;

TEST(BackendHealth, StartsUp) {
  BackendHealth health;
  EXPECT_TRUE(health.is_up(0));
  EXPECT_TRUE(health.is_up(kNow));
  EXPECT_EQ(health.down_until_ms(), 0u);
  EXPECT_EQ(health.consecutive_failures(), 0u);
  EXPECT_FALSE(health.record_success());  // was not down
}

TEST(BackendHealth, FailureMarksDownForOneSecond) {
  BackendHealth health;
  EXPECT_TRUE(health.record_failure(kNow));  // up -> down
  EXPECT_EQ(health.consecutive_failures(), 1u);
  EXPECT_EQ(health.down_until_ms(), kNow + 1000);
  EXPECT_FALSE(health.is_up(kNow));
  EXPECT_FALSE(health.is_up(kNow + 999));
  EXPECT_TRUE(health.is_up(kNow + 1000));  // back-off over: one more try allowed
}

TEST(BackendHealth, FailuresDuringBackoffDoNotExtendIt) {
  // Connects in flight on several workers when the backend died all fail together; that
  // is one outage, not five.
  BackendHealth health;
  EXPECT_TRUE(health.record_failure(kNow));
  for (uint64_t t = kNow; t < kNow + 1000; t += 100) {
    EXPECT_FALSE(health.record_failure(t));
  }
  EXPECT_EQ(health.consecutive_failures(), 1u);
  EXPECT_EQ(health.down_until_ms(), kNow + 1000);
}

TEST(BackendHealth, BackoffDoublesPerFailedProbeUpToThirtySeconds) {
  BackendHealth health;
  uint64_t now = kNow;
  const uint64_t expected[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
  for (size_t i = 0; i < std::size(expected); ++i) {
    ASSERT_TRUE(health.is_up(now)) << i;
    EXPECT_EQ(health.record_failure(now), i == 0) << i;  // only the first marks it down
    EXPECT_EQ(health.consecutive_failures(), i + 1);
    EXPECT_EQ(health.down_until_ms(), now + expected[i]) << i;
    now = health.down_until_ms();  // the next probe as soon as allowed
  }
}

TEST(BackendHealth, ManyFailuresSaturateWithoutOverflow) {
  BackendHealth health;
  uint64_t now = kNow;
  for (int i = 0; i < 100'000; ++i) {
    health.record_failure(now);
    now = health.down_until_ms();
  }
  EXPECT_GE(health.consecutive_failures(), 0xffffu);
  health.record_failure(now);
  EXPECT_EQ(health.down_until_ms(), now + BackendHealth::kMaxBackoffMs);
}

TEST(BackendHealth, SuccessResetsTheBackoff) {
  BackendHealth health;
  uint64_t now = kNow;
  for (int i = 0; i < 6; ++i) {
    health.record_failure(now);
    now = health.down_until_ms();
  }
  EXPECT_TRUE(health.record_success());  // down -> up
  EXPECT_EQ(health.consecutive_failures(), 0u);
  EXPECT_EQ(health.down_until_ms(), 0u);
  EXPECT_TRUE(health.is_up(now));
  EXPECT_FALSE(health.record_success());
  // The next outage starts from one second again.
  EXPECT_TRUE(health.record_failure(now));
  EXPECT_EQ(health.down_until_ms(), now + 1000);
}

TEST(BackendHealth, LateSuccessDuringBackoffResets) {
  // A connect started before the outage may succeed while in back-off: proof of life.
  BackendHealth health;
  health.record_failure(kNow);
  EXPECT_TRUE(health.record_success());
  EXPECT_TRUE(health.is_up(kNow));
}

TEST(BackendHealth, ConcurrentFailuresMarkDownOnce) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 20; ++round) {
    BackendHealth health;
    std::atomic<int> transitions{0};
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        for (int i = 0; i < 100; ++i) {
          if (health.record_failure(kNow)) transitions.fetch_add(1);
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(transitions.load(), 1);
    EXPECT_EQ(health.consecutive_failures(), 1u);
    EXPECT_EQ(health.down_until_ms(), kNow + 1000);
  }
}

TEST(BackendHealth, ConcurrentFailuresAndSuccessesStaySane) {
  // Workers report mixed results on a moving clock; whatever the interleaving, the
  // back-off stays within its bounds, and once successes stop racing with failures
  // a success leaves it fully reset.
  constexpr int kThreads = 6;
  constexpr int kIterations = 20'000;
  BackendHealth health;
  std::atomic<uint64_t> clock{kNow};
  std::atomic<bool> insane{false};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kIterations; ++i) {
        uint64_t now = clock.fetch_add(1, std::memory_order_relaxed) + 1;
        if ((i + t) % 3 == 0) {
          health.record_success();
        } else {
          health.record_failure(now);
        }
        uint64_t until = health.down_until_ms();
        uint32_t failures = health.consecutive_failures();
        // Every state ever stored was set at a time <= the clock's current value.
        uint64_t latest = clock.load(std::memory_order_relaxed);
        if (until > latest + BackendHealth::kMaxBackoffMs) insane = true;
        // Each escalation needs the previous back-off (>= 1 s) to have passed.
        if (failures > (latest - kNow) / 1000 + 1) insane = true;
        (void)health.is_up(now);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(insane.load());
  health.record_success();
  EXPECT_EQ(health.consecutive_failures(), 0u);
  EXPECT_EQ(health.down_until_ms(), 0u);
  EXPECT_TRUE(health.record_failure(clock.load()));
  EXPECT_EQ(health.down_until_ms(), clock.load() + 1000);
}

TEST(BackendHealth, MarkedUpUntilAFailureAndAgainAfterASuccess) {
  BackendHealth health;
  EXPECT_TRUE(health.marked_up());
  health.record_failure(kNow);
  EXPECT_FALSE(health.marked_up());
  // The back-off is over and a probe may go through, but nothing has succeeded yet.
  EXPECT_TRUE(health.is_up(kNow + 1000));
  EXPECT_FALSE(health.marked_up());
  health.record_success();
  EXPECT_TRUE(health.marked_up());
}

// Issue 12, item 3: a reload used to give the new generation a copy of a kept backend's
// health. A connect of the old generation that failed after the reload marked the stats
// row down, and the new generation's successes never marked it up again. Both
// generations now hold one object: the old one's failure is the new one's recovery.
TEST(BackendHealth, Issue12OneStateSharedByOldAndNewGeneration) {
  BackendState old_generation;
  BackendState new_generation;
  new_generation.health = old_generation.health;  // what a reload does for a kept backend

  EXPECT_TRUE(old_generation.health->record_failure(kNow)) << "logs backend_down";
  EXPECT_FALSE(new_generation.health->marked_up());
  EXPECT_FALSE(new_generation.health->is_up(kNow)) << "the new generation sees the back-off";
  EXPECT_TRUE(new_generation.health->record_success()) << "logs backend_up";
  EXPECT_TRUE(old_generation.health->marked_up());
}

TEST(BackendState, EachStateStartsWithItsOwnHealth) {
  BackendState a;
  BackendState b;
  ASSERT_NE(a.health, nullptr);
  ASSERT_NE(b.health, nullptr);
  EXPECT_NE(a.health, b.health);
  a.health->record_failure(kNow);
  EXPECT_TRUE(b.health->marked_up());
}

TEST(BackendHealth, TransitionsAlternateWhateverThreadMakesThem) {
  // Old-generation workers fail, new-generation workers succeed, a scraper reads the
  // gauge: every backend_down has its backend_up, and the gauge is down exactly while one
  // is missing. Run under TSan too.
  constexpr int kFailers = 3;
  constexpr int kSucceeders = 3;
  constexpr int kIterations = 20'000;
  BackendHealth health;
  std::atomic<uint64_t> clock{kNow};
  std::atomic<int> downs{0};
  std::atomic<int> ups{0};
  std::atomic<bool> done{false};
  std::latch start(kFailers + kSucceeders + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kFailers; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < kIterations; ++i) {
        // Steps of a second or more, so a failure after a back-off marks down again.
        uint64_t now = clock.fetch_add(BackendHealth::kMaxBackoffMs) + BackendHealth::kMaxBackoffMs;
        if (health.record_failure(now)) downs.fetch_add(1);
      }
    });
  }
  for (int t = 0; t < kSucceeders; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < kIterations; ++i) {
        if (health.record_success()) ups.fetch_add(1);
      }
    });
  }
  threads.emplace_back([&] {
    start.arrive_and_wait();
    while (!done.load()) (void)health.marked_up();
  });
  for (int t = 0; t < kFailers + kSucceeders; ++t) threads[t].join();
  done = true;
  threads.back().join();
  EXPECT_GE(downs.load(), 1);
  EXPECT_TRUE(downs.load() == ups.load() || downs.load() == ups.load() + 1);
  EXPECT_EQ(health.marked_up(), downs.load() == ups.load());
  if (!health.marked_up()) {
    EXPECT_TRUE(health.record_success());
  }
  EXPECT_TRUE(health.marked_up());
}

TEST(BackendState, SharedPartsNotCopyableOrMovable) {
  static_assert(!std::is_copy_constructible_v<BackendSlots>);
  static_assert(!std::is_move_constructible_v<BackendSlots>);
  static_assert(!std::is_copy_constructible_v<BackendHealth>);
  SUCCEED();
}

TEST(BackendState, BuiltInPlaceInContainers) {
  // A contiguous array (what Balancer::pick takes): default-construct, then set weights
  // before sharing it with the workers.
  const uint32_t weights[] = {3, 0, 256};
  auto array = std::make_unique<BackendState[]>(std::size(weights));
  for (size_t i = 0; i < std::size(weights); ++i) array[i].weight = weights[i];
  EXPECT_EQ(array[0].weight, 3u);
  EXPECT_EQ(array[1].weight, 0u);
  EXPECT_EQ(array[2].weight, 256u);
  EXPECT_EQ(array[2].slots->active(), 0u);
  EXPECT_TRUE(array[2].health->is_up(kNow));

  // A deque grows without moving its elements, so it can emplace them one by one.
  std::deque<BackendState> deque;
  for (uint32_t w : weights) deque.emplace_back().weight = w;
  BackendState* first = &deque.front();
  for (int i = 0; i < 100; ++i) deque.emplace_back();
  EXPECT_EQ(first, &deque.front());  // addresses stay valid for other threads
  EXPECT_EQ(deque[2].weight, 256u);
}

TEST(BackendState, ActiveCountSharedByThreads) {
  BackendState state;
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        ASSERT_TRUE(state.slots->try_acquire());
        state.slots->release();
      }
      ASSERT_TRUE(state.slots->try_acquire());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(state.slots->active(), static_cast<uint32_t>(kThreads));
}

TEST(BackendSlots, CapHoldsUnderContention) {
  BackendSlots slots(5);
  constexpr int kThreads = 4;
  std::atomic<int> over{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) {
        if (!slots.try_acquire()) continue;
        if (slots.active() > 5) over.fetch_add(1);
        slots.release();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(over.load(), 0);
  EXPECT_EQ(slots.active(), 0u);
}

}  // namespace
}  // namespace arus
