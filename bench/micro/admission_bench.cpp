// Admission of a new connection with N already admitted: the connection caps
// (Admission), a backend's slots (BackendSlots), the queue for a backend slot with N
// waiting (BackendQueue), and the per-source table with N sources (SourceTable,
// SourceLimits).
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "arus/balance/backend_queue.hpp"
#include "arus/balance/backend_slots.hpp"
#include "arus/worker/admission.hpp"
#include "arus/worker/source_limits.hpp"
#include "arus/worker/source_table.hpp"
#include "sizes.hpp"

namespace arus::micro {
namespace {

// An operation: a connection admitted and closed (try_enter + leave) while N are in.
void admission(benchmark::State& state) {
  const auto n = static_cast<uint64_t>(state.range(0));
  Admission admission(n + 1);
  for (uint64_t i = 0; i < n; ++i) admission.try_enter();
  for (auto _ : state) {
    benchmark::DoNotOptimize(admission.try_enter());
    admission.leave();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// An operation: a backend slot taken and given back while N are held (a capped backend).
void backend_slots(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  BackendSlots slots(n + 1);
  for (uint32_t i = 0; i < n; ++i) slots.try_acquire();
  for (auto _ : state) {
    benchmark::DoNotOptimize(slots.try_acquire());
    slots.release();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

struct Waiter final : QueueWaiter {
  int take_slot() noexcept override { return -1; }  // the backend stays full
  void on_slot_granted(int) noexcept override {}
};

// N clients waiting for a full backend. An operation: one of them gives up (cancel) and
// a new one queues at the tail (take_or_wait).
void backend_queue(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  BackendQueue queue;
  auto waiters = std::make_unique<Waiter[]>(n);
  for (size_t i = 0; i < n; ++i) queue.take_or_wait(waiters[i]);
  size_t i = 0;
  for (auto _ : state) {
    queue.cancel(waiters[i]);
    queue.take_or_wait(waiters[i]);
    i = next_entry(i, n);
  }
  if (queue.length() != n) state.SkipWithError("queue length changed");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Source i: a distinct IPv6 address (16 bytes, the longest key).
SourceKey source(uint64_t i) {
  std::array<uint8_t, 16> bytes{0x20, 0x01, 0x0d, 0xb8};
  std::memcpy(bytes.data() + 8, &i, sizeof i);
  return SourceKey::of(std::string_view(reinterpret_cast<const char*>(bytes.data()), 16));
}

std::vector<SourceKey> sources(size_t n) {
  std::vector<SourceKey> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i) keys.push_back(source(i));
  return keys;
}

// N sources remembered (capacity N). An operation: a known source seen again (lookup,
// moved to the front of the LRU list).
void source_table_hit(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  SourceTable table(n);
  auto keys = sources(n);
  for (const auto& key : keys) table.touch(key, 10, 0);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(&table.touch(keys[i], 10, 0));
    i = next_entry(i, n);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// A full table of N sources and a stream of new ones. An operation: a new source takes
// the place of the least recently seen (lookup miss, eviction, insert).
void source_table_evict(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  SourceTable table(n);
  auto keys = sources(2 * n);
  for (size_t k = 0; k < n; ++k) table.touch(keys[k], 10, 0);
  size_t i = n;
  for (auto _ : state) {
    benchmark::DoNotOptimize(&table.touch(keys[i], 10, 0));
    i = next_entry(i, 2 * n);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// SourceLimits with max_connections_per_source, N sources with one open connection each.
// An operation: a connection from one of them admitted and released (the lock, the table
// lookup twice).
void source_limits(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  LimitsConfig config;
  config.max_connections_per_source = 1000;
  SourceLimits limits(config, 0, n);
  std::vector<std::array<uint8_t, 16>> ips(n);
  for (size_t k = 0; k < n; ++k) {
    ips[k] = source(k).bytes;
    limits.admit(std::string_view(reinterpret_cast<const char*>(ips[k].data()), 16), 0);
  }
  size_t i = 0;
  for (auto _ : state) {
    std::string_view ip(reinterpret_cast<const char*>(ips[i].data()), 16);
    benchmark::DoNotOptimize(limits.admit(ip, 0));
    limits.release(ip);
    i = next_entry(i, n);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

BENCHMARK(admission)->Name("Admission (max_connections): enter + leave")->Apply([](auto* b) {
  at_every_size(b);
});
BENCHMARK(backend_slots)->Name("BackendSlots (backend cap): acquire + release")->Apply([](auto* b) {
  at_every_size(b);
});
BENCHMARK(backend_queue)->Name("BackendQueue, N waiting: cancel one + queue one")->Apply([](auto* b) {
  at_every_size(b);
});
BENCHMARK(source_table_hit)->Name("SourceTable, N sources: known source seen")->Apply([](auto* b) {
  at_every_size(b);
});
BENCHMARK(source_table_evict)->Name("SourceTable, N sources: new source evicts oldest")->Apply([](auto* b) {
  at_every_size(b);
});
BENCHMARK(source_limits)->Name("SourceLimits, N sources: admit + release")->Apply([](auto* b) {
  at_every_size(b);
});

}  // namespace
}  // namespace arus::micro
