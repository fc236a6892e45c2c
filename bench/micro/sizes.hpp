// What every micro-benchmark shares: the numbers of entries it runs at (1k to 1M, as the
// issue asks) and the one order in which entries are visited. Header only.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>

namespace arus::micro {

// Runs `b` at 1k, 10k, 100k and 1M entries; the name ends in /ENTRIES, which the report
// (bench/arusbench/micro.py) reads.
inline benchmark::internal::Benchmark* at_every_size(benchmark::internal::Benchmark* b) {
  return b->Arg(1'000)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kNanosecond);
}

// The next entry, in turn: a worker serving its connections one after the other. Turn
// order measures what the structure costs; a random order would add the memory latency
// of the largest sizes, which the `memory` reference benchmark shows on its own.
inline size_t next_entry(size_t i, size_t n) noexcept { return i + 1 == n ? 0 : i + 1; }

// A cheap, fixed pseudo-random sequence (xorshift64), for the reference and for spreads.
inline uint64_t xorshift(uint64_t& state) noexcept {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

}  // namespace arus::micro
