// Hash mixing for the tables and balancers that hash their own keys. Stateless.
#pragma once

#include <cstdint>

namespace arus {

// splitmix64's finalizer: each input bit flips about half of the output bits.
constexpr uint64_t splitmix64_finalize(uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace arus
