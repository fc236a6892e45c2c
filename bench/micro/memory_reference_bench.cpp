// The reference every other micro-benchmark is read against: following a chain through
// N 64-byte entries in random order, each step a load that depends on the one before (as
// a linked structure's neighbours do). It does nothing else, so its growth from 1k to 1M
// entries is memory latency alone: the larger arrays leave the CPU caches and the TLB.
#include <memory>
#include <numeric>
#include <utility>
#include <vector>

#include "sizes.hpp"

namespace arus::micro {
namespace {

struct alignas(64) Entry {
  size_t next = 0;
};

void memory_chase(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  // One cycle through every entry in a random order (Sattolo's shuffle).
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  uint64_t seed = 0x2545F4914F6CDD1Dull;
  for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[xorshift(seed) % i]);
  auto entries = std::make_unique<Entry[]>(n);
  for (size_t i = 0; i < n; ++i) entries[order[i]].next = order[(i + 1) % n];
  size_t at = order[0];
  for (auto _ : state) {
    at = entries[at].next;
    benchmark::DoNotOptimize(at);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

BENCHMARK(memory_chase)
    ->Name("reference: one dependent load from N 64-byte entries, random order")
    ->Apply([](auto* b) { at_every_size(b); });

}  // namespace
}  // namespace arus::micro
