// Unit tests for TimerWheel: firing time and order, far expiries, jumps, cancellation and
// re-entrancy from callbacks, a randomized soak, and the ms_until_next bound.
#include "arus/reactor/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <vector>

namespace arus {
namespace {

constexpr uint64_t kStart = 1'000'000;  // an arbitrary, non-aligned monotonic clock
constexpr uint64_t kDayMs = 24ull * 3600 * 1000;

// A timer that records when it fired: the `now` of the advance() that fired it.
class RecordingTimer final : public Timer {
 public:
  explicit RecordingTimer(const uint64_t* clock_ms = nullptr) : clock(clock_ms) {}
  ~RecordingTimer() = default;
  void on_timer() noexcept override {
    ++fired;
    if (clock != nullptr) fired_at = *clock;
    if (action) action();
  }
  const uint64_t* clock;
  int fired = 0;
  uint64_t fired_at = 0;
  std::function<void()> action;
};

// Drives a wheel and remembers the time of each advance for the timers to read.
struct Clock {
  explicit Clock(TimerWheel& w, uint64_t start) : wheel(w), now(start) {}
  void advance_to(uint64_t t) {
    previous = now;
    now = t;
    wheel.advance(t);
  }
  TimerWheel& wheel;
  uint64_t now;
  uint64_t previous = 0;
};

TEST(TimerWheel, FiresAtExpiryNotBefore) {
  TimerWheel wheel(kStart);
  Clock clock(wheel, kStart);
  RecordingTimer t(&clock.now);
  wheel.schedule(t, kStart + 10);
  EXPECT_TRUE(t.scheduled());
  EXPECT_EQ(t.expiry_ms(), kStart + 10);
  EXPECT_EQ(wheel.size(), 1u);
  for (uint64_t now = kStart + 1; now < kStart + 10; ++now) {
    clock.advance_to(now);
    ASSERT_EQ(t.fired, 0) << "fired early at " << now;
  }
  clock.advance_to(kStart + 10);
  EXPECT_EQ(t.fired, 1);
  EXPECT_FALSE(t.scheduled());
  EXPECT_EQ(wheel.size(), 0u);
  clock.advance_to(kStart + 1000);
  EXPECT_EQ(t.fired, 1);
}

TEST(TimerWheel, PastOrPresentExpiryFiresAtNextAdvance) {
  TimerWheel wheel(kStart);
  RecordingTimer past, present;
  wheel.schedule(past, kStart - 500);
  wheel.schedule(present, kStart);
  EXPECT_EQ(wheel.ms_until_next(kStart), 0);
  wheel.advance(kStart);  // the clock need not move
  EXPECT_EQ(past.fired, 1);
  EXPECT_EQ(present.fired, 1);
}

TEST(TimerWheel, StepwiseAdvanceFiresInExpiryOrder) {
  TimerWheel wheel(kStart);
  std::vector<int> order;
  std::vector<std::unique_ptr<RecordingTimer>> timers;
  // Expiries spread over levels 0-2, scheduled in shuffled order.
  std::vector<uint64_t> delays = {5, 1, 64, 63, 65, 4095, 4096, 4097, 300, 2, 7000, 129};
  for (size_t i = 0; i < delays.size(); ++i) {
    timers.push_back(std::make_unique<RecordingTimer>());
    timers.back()->action = [&order, i] { order.push_back(static_cast<int>(i)); };
    wheel.schedule(*timers.back(), kStart + delays[i]);
  }
  for (uint64_t now = kStart + 1; now <= kStart + 7000; ++now) wheel.advance(now);
  ASSERT_EQ(order.size(), delays.size());
  for (size_t k = 1; k < order.size(); ++k) {
    EXPECT_LT(delays[order[k - 1]], delays[order[k]]);
  }
}

TEST(TimerWheel, SevenDaysAheadFiresOnTimeWithFewWakeUps) {
  TimerWheel wheel(kStart);
  Clock clock(wheel, kStart);
  RecordingTimer t(&clock.now);
  const uint64_t expiry = kStart + 7 * kDayMs + 123;
  wheel.schedule(t, expiry);
  // Sleep exactly as the reactor would: as long as ms_until_next allows.
  int wake_ups = 0;
  while (t.fired == 0) {
    int64_t wait = wheel.ms_until_next(clock.now);
    ASSERT_GE(wait, 0);
    ASSERT_LE(clock.now + static_cast<uint64_t>(wait), expiry) << "would oversleep";
    clock.advance_to(clock.now + static_cast<uint64_t>(wait));
    ASSERT_LE(++wake_ups, 2 * TimerWheel::kLevels) << "cascading should take few wake-ups";
  }
  EXPECT_EQ(t.fired_at, expiry);
  EXPECT_EQ(wheel.ms_until_next(clock.now), -1);
}

TEST(TimerWheel, JumpFarAheadFiresAllDueAndKeepsTheRest) {
  TimerWheel wheel(kStart);
  Clock clock(wheel, kStart);
  RecordingTimer a(&clock.now), b(&clock.now), c(&clock.now), d(&clock.now), e(&clock.now);
  wheel.schedule(a, kStart + 1);
  wheel.schedule(b, kStart + 3 * 3600 * 1000);      // 3 h
  wheel.schedule(c, kStart + 5 * 3600 * 1000);      // 5 h
  wheel.schedule(d, kStart + 5 * 3600 * 1000 + 1);  // 5 h + 1 ms
  wheel.schedule(e, kStart + 2 * kDayMs);           // 2 days
  clock.advance_to(kStart + 5 * 3600 * 1000);       // one jump of 5 hours
  EXPECT_EQ(a.fired, 1);
  EXPECT_EQ(b.fired, 1);
  EXPECT_EQ(c.fired, 1);
  EXPECT_EQ(d.fired, 0);
  EXPECT_EQ(e.fired, 0);
  EXPECT_EQ(wheel.size(), 2u);
  EXPECT_EQ(wheel.ms_until_next(clock.now), 1);
  clock.advance_to(clock.now + 1);
  EXPECT_EQ(d.fired, 1);
  clock.advance_to(kStart + 2 * kDayMs - 1);
  EXPECT_EQ(e.fired, 0);
  clock.advance_to(kStart + 30 * kDayMs);
  EXPECT_EQ(e.fired, 1);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, ExpiryBeyondTheWheelSpanStillFires) {
  // 64^6 ms is about 2.2 years; farther timers wait in the overflow list.
  const uint64_t span = uint64_t{1} << 36;
  TimerWheel wheel(kStart);
  Clock clock(wheel, kStart);
  RecordingTimer far(&clock.now);
  const uint64_t expiry = kStart + 3 * span + 777;
  wheel.schedule(far, expiry);
  int64_t wait = wheel.ms_until_next(clock.now);
  ASSERT_GT(wait, 0);
  ASSERT_LE(clock.now + static_cast<uint64_t>(wait), expiry);
  for (int i = 0; i < 100 && far.fired == 0; ++i) {
    wait = wheel.ms_until_next(clock.now);
    ASSERT_GE(wait, 0);
    ASSERT_LE(clock.now + static_cast<uint64_t>(wait), expiry);
    clock.advance_to(clock.now + static_cast<uint64_t>(wait));
  }
  EXPECT_EQ(far.fired, 1);
  EXPECT_EQ(far.fired_at, expiry);
}

TEST(TimerWheel, CancelAndDestroyPreventFiring) {
  TimerWheel wheel(kStart);
  RecordingTimer kept, cancelled;
  wheel.schedule(kept, kStart + 100);
  wheel.schedule(cancelled, kStart + 100);
  {
    RecordingTimer destroyed;
    wheel.schedule(destroyed, kStart + 100);
    EXPECT_EQ(wheel.size(), 3u);
  }  // ~Timer cancels
  EXPECT_EQ(wheel.size(), 2u);
  wheel.cancel(cancelled);
  wheel.cancel(cancelled);  // twice is harmless
  EXPECT_FALSE(cancelled.scheduled());
  EXPECT_EQ(wheel.size(), 1u);
  wheel.advance(kStart + 100);
  EXPECT_EQ(kept.fired, 1);
  EXPECT_EQ(cancelled.fired, 0);
  EXPECT_EQ(wheel.ms_until_next(kStart + 100), -1);
}

TEST(TimerWheel, RescheduleMovesTheExpiry) {
  TimerWheel wheel(kStart);
  RecordingTimer t;
  wheel.schedule(t, kStart + 5000);
  wheel.schedule(t, kStart + 10);  // earlier
  EXPECT_EQ(wheel.size(), 1u);
  wheel.advance(kStart + 10);
  EXPECT_EQ(t.fired, 1);
  wheel.schedule(t, kStart + 20);
  wheel.schedule(t, kStart + 9000);  // later
  wheel.advance(kStart + 8999);
  EXPECT_EQ(t.fired, 1);
  wheel.advance(kStart + 9000);
  EXPECT_EQ(t.fired, 2);
}

TEST(TimerWheel, PostponedTimerFiresAtItsNewExpiryNotBefore) {
  TimerWheel wheel(kStart);
  Clock clock(wheel, kStart);
  RecordingTimer t(&clock.now);
  wheel.schedule(t, kStart + 100);  // a connect timeout...
  wheel.schedule(t, kStart + 700'000);  // ...then the idle timeout, pushed on and on
  for (uint64_t now = kStart + 1; now < kStart + 300'000; now += 997) {
    clock.advance_to(now);
    wheel.schedule(t, now + 700'000);
    ASSERT_EQ(t.fired, 0) << now;
    ASSERT_TRUE(t.scheduled());
  }
  EXPECT_EQ(wheel.size(), 1u);
  const uint64_t expiry = t.expiry_ms();
  // Follow the wake-ups as a reactor would: one of them lands on the expiry exactly.
  for (int wake_ups = 0; t.fired == 0; ++wake_ups) {
    ASSERT_LT(wake_ups, 8 * TimerWheel::kLevels);
    int64_t wait = wheel.ms_until_next(clock.now);
    ASSERT_GE(wait, 0);
    ASSERT_LE(clock.now + static_cast<uint64_t>(wait), expiry);
    clock.advance_to(clock.now + static_cast<uint64_t>(wait));
  }
  EXPECT_EQ(t.fired, 1);
  EXPECT_EQ(t.fired_at, expiry);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, PostponedTimersStillFireInExpiryOrder) {
  TimerWheel wheel(kStart);
  std::vector<int> order;
  RecordingTimer a, b, c;
  a.action = [&] { order.push_back(0); };
  b.action = [&] { order.push_back(1); };
  c.action = [&] { order.push_back(2); };
  wheel.schedule(a, kStart + 10);
  wheel.schedule(b, kStart + 20);
  wheel.schedule(c, kStart + 30);
  wheel.schedule(a, kStart + 5000);  // a now last; b and c keep their order
  wheel.schedule(b, kStart + 40);
  for (uint64_t now = kStart + 1; now <= kStart + 5000; ++now) wheel.advance(now);
  EXPECT_EQ(order, (std::vector<int>{2, 1, 0}));
}

TEST(TimerWheel, PostponedThenCancelledOrPulledInDoesNotFireLate) {
  TimerWheel wheel(kStart);
  Clock clock(wheel, kStart);
  RecordingTimer cancelled(&clock.now), pulled_in(&clock.now);
  wheel.schedule(cancelled, kStart + 50);
  wheel.schedule(cancelled, kStart + 90'000);
  wheel.cancel(cancelled);
  wheel.schedule(pulled_in, kStart + 50);
  wheel.schedule(pulled_in, kStart + 90'000);
  wheel.schedule(pulled_in, kStart + 20);  // earlier again: moved now
  EXPECT_EQ(wheel.size(), 1u);
  clock.advance_to(kStart + 19);
  EXPECT_EQ(pulled_in.fired, 0);
  clock.advance_to(kStart + 20);
  EXPECT_EQ(pulled_in.fired, 1);
  clock.advance_to(kStart + 200'000);
  EXPECT_EQ(cancelled.fired, 0);
  EXPECT_EQ(wheel.ms_until_next(clock.now), -1);
}

TEST(TimerWheel, CallbackReschedulesItself) {
  TimerWheel wheel(kStart);
  Clock clock(wheel, kStart);
  RecordingTimer t(&clock.now);
  std::vector<uint64_t> fired_at;
  t.action = [&] {
    fired_at.push_back(clock.now);
    if (fired_at.size() < 5) wheel.schedule(t, clock.now + 100);
  };
  wheel.schedule(t, kStart + 100);
  for (uint64_t now = kStart; now <= kStart + 1000; now += 7) clock.advance_to(now);
  ASSERT_EQ(fired_at.size(), 5u);
  uint64_t expiry = kStart + 100;
  for (uint64_t at : fired_at) {
    EXPECT_GE(at, expiry);
    EXPECT_LT(at, expiry + 7);  // the first advance at or after the expiry
    expiry = at + 100;
  }
}

TEST(TimerWheel, CallbackSchedulingAtNowFiresAtNextAdvanceOnly) {
  TimerWheel wheel(kStart);
  RecordingTimer t;
  uint64_t now = kStart + 1;
  t.action = [&] { wheel.schedule(t, now); };  // would spin forever if fired at once
  wheel.schedule(t, now);
  wheel.advance(now);
  EXPECT_EQ(t.fired, 1);
  EXPECT_TRUE(t.scheduled());
  EXPECT_EQ(wheel.ms_until_next(now), 0);
  wheel.advance(now);
  EXPECT_EQ(t.fired, 2);
  wheel.cancel(t);
}

TEST(TimerWheel, CallbackCancelsOrDestroysAnotherDueTimer) {
  TimerWheel wheel(kStart);
  // Both due in the same advance; whichever fires first removes the other.
  RecordingTimer a, b;
  auto c = std::make_unique<RecordingTimer>();
  auto d = std::make_unique<RecordingTimer>();
  a.action = [&] { wheel.cancel(b); };
  b.action = [&] { wheel.cancel(a); };
  c->action = [&] { d.reset(); };
  d->action = [&] { c.reset(); };
  wheel.schedule(a, kStart + 50);
  wheel.schedule(b, kStart + 50);
  wheel.schedule(*c, kStart + 3000);
  wheel.schedule(*d, kStart + 3001);
  wheel.advance(kStart + 10'000);
  EXPECT_EQ(a.fired + b.fired, 1);
  EXPECT_EQ((c ? c->fired : 0) + (d ? d->fired : 0), 1);
  EXPECT_TRUE((c == nullptr) != (d == nullptr));
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, CallbackReschedulesAnotherDueTimer) {
  TimerWheel wheel(kStart);
  Clock clock(wheel, kStart);
  // Both due in the same advance; whichever fires first postpones the other.
  RecordingTimer a(&clock.now), b(&clock.now);
  a.action = [&] {
    if (b.fired == 0) wheel.schedule(b, clock.now + 100);
  };
  b.action = [&] {
    if (a.fired == 0) wheel.schedule(a, clock.now + 100);
  };
  wheel.schedule(a, kStart + 70);
  wheel.schedule(b, kStart + 70);
  clock.advance_to(kStart + 200);
  EXPECT_EQ(a.fired + b.fired, 1);
  EXPECT_EQ(wheel.size(), 1u);
  RecordingTimer& postponed = a.fired == 0 ? a : b;
  EXPECT_EQ(postponed.expiry_ms(), kStart + 300);
  clock.advance_to(kStart + 299);
  EXPECT_EQ(postponed.fired, 0);
  clock.advance_to(kStart + 300);
  EXPECT_EQ(postponed.fired, 1);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, CallbackMayDestroyItsOwnTimer) {
  TimerWheel wheel(kStart);
  auto t = std::make_unique<RecordingTimer>();
  RecordingTimer after;
  t->action = [&] { t.reset(); };  // a connection freeing itself on timeout
  wheel.schedule(*t, kStart + 1);
  wheel.schedule(after, kStart + 1);
  wheel.advance(kStart + 1);
  EXPECT_EQ(t, nullptr);
  EXPECT_EQ(after.fired, 1);
}

TEST(TimerWheel, WheelDestroyedBeforeItsTimers) {
  RecordingTimer t;
  {
    TimerWheel wheel(kStart);
    wheel.schedule(t, kStart + 10);
  }
  EXPECT_FALSE(t.scheduled());  // and ~Timer must not touch the dead wheel
}

TEST(TimerWheel, HundredThousandRandomTimersFireOnceNeverEarly) {
  std::mt19937_64 rng(12345);
  TimerWheel wheel(kStart);
  Clock clock(wheel, kStart);
  constexpr size_t kCount = 100'000;
  auto timers = std::make_unique<RecordingTimer[]>(kCount);
  std::vector<uint64_t> previous_advance(kCount, 0);
  auto random_delay = [&](size_t i) {
    // A mix of short, medium and long timeouts, like connect and idle timeouts.
    uint64_t range = (i % 3 == 0) ? 100 : (i % 3 == 1) ? 60'000 : 7 * kDayMs;
    return std::uniform_int_distribution<uint64_t>(1, range)(rng);
  };
  for (size_t i = 0; i < kCount; ++i) {
    timers[i].clock = &clock.now;
    timers[i].action = [&, i] { previous_advance[i] = clock.previous; };
    wheel.schedule(timers[i], kStart + random_delay(i));
  }
  ASSERT_EQ(wheel.size(), kCount);
  // Small irregular steps for the first two minutes, then jumps of up to a day; some
  // pending timers are rescheduled on the way.
  // Bounded so a wheel that loses a timer fails the test instead of hanging it.
  for (int iteration = 0; wheel.size() > 0; ++iteration) {
    ASSERT_LT(iteration, 1'000'000) << wheel.size() << " timers never fired";
    uint64_t step;
    switch (rng() % 4) {
      case 0:
        step = 1;
        break;
      case 1:
        step = rng() % 64;
        break;
      case 2:
        step = rng() % 5000;
        break;
      default:
        step = clock.now < kStart + 120'000 ? rng() % 300 : rng() % kDayMs;
        break;
    }
    for (int k = 0; k < 20; ++k) {
      size_t i = rng() % kCount;
      if (timers[i].scheduled()) wheel.schedule(timers[i], clock.now + random_delay(i));
      // Postponed in place (a later expiry): found in its old slot, placed again.
      size_t j = rng() % kCount;
      if (timers[j].scheduled()) wheel.schedule(timers[j], timers[j].expiry_ms() + rng() % 5000);
    }
    ASSERT_GE(wheel.ms_until_next(clock.now), 0);
    clock.advance_to(clock.now + step);
  }
  for (size_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(timers[i].fired, 1) << i;
    ASSERT_GE(timers[i].fired_at, timers[i].expiry_ms()) << "fired early: " << i;
    // Fired by the first advance at or after its expiry: the one before was too soon.
    ASSERT_LT(previous_advance[i], timers[i].expiry_ms()) << "fired late: " << i;
  }
}

TEST(TimerWheel, MsUntilNextNeverLaterThanEarliestExpiry) {
  std::mt19937_64 rng(777);
  TimerWheel wheel(kStart);
  EXPECT_EQ(wheel.ms_until_next(kStart), -1);
  auto timers = std::make_unique<RecordingTimer[]>(2000);
  auto all = [&] { return std::span<RecordingTimer>(timers.get(), 2000); };
  uint64_t now = kStart;
  for (int round = 0; round < 40; ++round) {
    for (auto& t : all()) {
      if (!t.scheduled() && rng() % 2 == 0) {
        uint64_t span = uint64_t{1} << (rng() % 34);
        wheel.schedule(t, now + 1 + rng() % span);
      }
    }
    // Follow the bound as a reactor would until something fires.
    for (int wake_ups = 0;; ++wake_ups) {
      ASSERT_LT(wake_ups, 4 * TimerWheel::kLevels) << "the earliest timer never fired";
      uint64_t earliest = UINT64_MAX;
      for (auto& t : all()) {
        if (t.scheduled()) earliest = std::min(earliest, t.expiry_ms());
      }
      int64_t wait = wheel.ms_until_next(now);
      ASSERT_GE(wait, 0);
      ASSERT_LE(now + static_cast<uint64_t>(wait), earliest);
      // Also from a clock that moved on without advancing the wheel.
      int64_t later_wait = wheel.ms_until_next(now + 3);
      ASSERT_LE(now + 3 + static_cast<uint64_t>(later_wait), std::max(earliest, now + 3));
      int fired_before = 0;
      for (auto& t : all()) fired_before += t.fired;
      now += static_cast<uint64_t>(wait);
      wheel.advance(now);
      int fired_after = 0;
      for (auto& t : all()) fired_after += t.fired;
      if (fired_after > fired_before) {
        EXPECT_EQ(now, earliest);  // woke up exactly on time
        break;
      }
    }
  }
}

}  // namespace
}  // namespace arus
