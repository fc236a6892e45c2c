// TimerWheel (include/arus/reactor/timer_wheel.hpp) with N timers scheduled: re-arming
// one (every read on a connection pushes its idle timeout), cancelling and arming one,
// and expiry (timers firing and re-arming, the wheel advanced one millisecond a turn).
#include <memory>
#include <vector>

#include "arus/reactor/timer_wheel.hpp"
#include "sizes.hpp"

namespace arus::micro {
namespace {

constexpr uint64_t kStart = 1'000'000;
constexpr uint64_t kIdleTimeoutMs = 600'000;  // the benchmark routes' idle_timeout_ms

struct BenchTimer final : Timer {
  // On firing, re-arms itself `period` ms later (the steady state of the expire test).
  void on_timer() noexcept override {
    ++*fired;
    wheel->schedule(*this, *now + period);
  }
  TimerWheel* wheel = nullptr;
  const uint64_t* now = nullptr;
  uint64_t* fired = nullptr;
  uint64_t period = 0;
};

// N timers that re-arm themselves `period` ms after firing, the i-th first due at
// `first_due(i)`.
template <typename FirstDue>
std::unique_ptr<BenchTimer[]> self_rearming(TimerWheel& wheel, const uint64_t& now,
                                            uint64_t& fired, size_t n, uint64_t period,
                                            FirstDue first_due) {
  auto timers = std::make_unique<BenchTimer[]>(n);
  for (size_t i = 0; i < n; ++i) {
    timers[i].wheel = &wheel;
    timers[i].now = &now;
    timers[i].fired = &fired;
    timers[i].period = period;
    wheel.schedule(timers[i], first_due(i));
  }
  return timers;
}

// N timers spread over the idle timeout, as N idle connections armed at different times.
std::unique_ptr<BenchTimer[]> spread(TimerWheel& wheel, size_t n) {
  auto timers = std::make_unique<BenchTimer[]>(n);
  uint64_t seed = 88172645463325252ull;
  for (size_t i = 0; i < n; ++i) {
    wheel.schedule(timers[i], kStart + 1 + xorshift(seed) % kIdleTimeoutMs);
  }
  return timers;
}

void rearm(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  TimerWheel wheel(kStart);
  auto timers = spread(wheel, n);
  size_t i = 0;
  uint64_t seed = 0x9E3779B97F4A7C15ull;
  for (auto _ : state) {
    wheel.schedule(timers[i], kStart + 1 + xorshift(seed) % kIdleTimeoutMs);
    i = next_entry(i, n);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// The idle timeout's own pattern: every read pushes the connection's timer to now +
// idle_timeout_ms, so timers re-armed in the same millisecond share a slot; the clock
// moves one millisecond every 64 re-arms (timers that come due re-arm themselves).
void rearm_idle_timeout(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  uint64_t now = kStart;
  uint64_t fired = 0;
  TimerWheel wheel(now);
  auto timers = self_rearming(wheel, now, fired, n, kIdleTimeoutMs,
                              [&](size_t) { return now + kIdleTimeoutMs; });
  size_t i = 0;
  unsigned turn = 0;
  for (auto _ : state) {
    wheel.schedule(timers[i], now + kIdleTimeoutMs);
    i = next_entry(i, n);
    if (++turn == 64) {
      turn = 0;
      wheel.advance(++now);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void cancel_arm(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  TimerWheel wheel(kStart);
  auto timers = spread(wheel, n);
  size_t i = 0;
  uint64_t seed = 0x9E3779B97F4A7C15ull;
  for (auto _ : state) {
    wheel.cancel(timers[i]);
    wheel.schedule(timers[i], kStart + 1 + xorshift(seed) % kIdleTimeoutMs);
    i = next_entry(i, n);
  }
  state.SetItemsProcessed(2 * static_cast<int64_t>(state.iterations()));  // two operations
}

// What a worker's connection does with its one timer (src/relay/connection*.cpp): armed
// to the connect timeout when it starts, pushed on to the idle timeout once connected,
// cancelled when it closes. N connections open; an operation: the oldest closes and a
// new one opens in its place (cancel, arm, postpone). The clock moves a millisecond
// every 64 operations and advance() runs then, as the reactor's turn does, so connect
// slots come up and their postponed timers cascade on as they would. This is the row
// to judge the wheel's per-connection cost on; the random re-arm rows above are
// patterns a worker does not produce (its re-arms are to later times, in arming order).
void connection_life(benchmark::State& state) {
  constexpr uint64_t kConnectTimeoutMs = 5'000;
  const size_t n = static_cast<size_t>(state.range(0));
  uint64_t now = kStart;
  uint64_t fired = 0;
  TimerWheel wheel(now);
  auto timers = self_rearming(wheel, now, fired, n, kIdleTimeoutMs,
                              [&](size_t) { return now + kConnectTimeoutMs; });
  unsigned turn = 0;
  for (size_t i = 0; i < n; ++i) {
    wheel.schedule(timers[i], now + kIdleTimeoutMs);
    if (++turn == 64) {
      turn = 0;
      wheel.advance(++now);
    }
  }
  size_t i = 0;
  for (auto _ : state) {
    wheel.cancel(timers[i]);
    wheel.schedule(timers[i], now + kConnectTimeoutMs);
    wheel.schedule(timers[i], now + kIdleTimeoutMs);
    i = next_entry(i, n);
    if (++turn == 64) {
      turn = 0;
      wheel.advance(++now);
    }
  }
  if (wheel.size() != n) state.SkipWithError("a timer was lost");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// N timers due one after the other, evenly spaced over the same timeout (about 2^20 ms,
// 17 minutes, whatever N: so every timer cascades through the same levels); each re-arms
// one timeout after firing, so the population stays N. The clock jumps to the next
// expiry, as a reactor sleeps until ms_until_next(). An operation: one advance() and
// the timer it fires (its cascades from the outer levels included).
void expire(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const uint64_t spacing = (uint64_t{1} << 20) / n;
  uint64_t now = kStart;
  uint64_t fired = 0;
  TimerWheel wheel(now);
  auto timers = self_rearming(wheel, now, fired, n, spacing * n,
                              [&](size_t i) { return now + spacing * (i + 1); });
  for (auto _ : state) {
    now += spacing;
    wheel.advance(now);
  }
  if (fired != static_cast<uint64_t>(state.iterations())) state.SkipWithError("a timer was late");
  state.SetItemsProcessed(static_cast<int64_t>(fired));
}

BENCHMARK(rearm_idle_timeout)->Name("TimerWheel rearm to now + idle timeout")->Apply([](auto* b) {
  at_every_size(b);
});
BENCHMARK(rearm)->Name("TimerWheel rearm to a random time within the idle timeout")->Apply([](auto* b) {
  at_every_size(b);
});
BENCHMARK(cancel_arm)->Name("TimerWheel cancel, then arm (random time)")->Apply([](auto* b) { at_every_size(b); });
BENCHMARK(connection_life)
    ->Name("TimerWheel, a connection's life: arm connect timeout, push on to idle, cancel")
    ->Apply([](auto* b) { at_every_size(b); });
BENCHMARK(expire)->Name("TimerWheel expire (advance to the next expiry, fire, re-arm)")->Apply([](auto* b) {
  at_every_size(b);
});

}  // namespace
}  // namespace arus::micro
