// Monotonic and wall clocks in milliseconds. Stateless, thread-safe.
#pragma once

#include <time.h>

#include <cstdint>

namespace arus {

// Milliseconds on CLOCK_MONOTONIC: for timeouts and durations, never for display.
inline uint64_t monotonic_ms() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

// Milliseconds since the Unix epoch on CLOCK_REALTIME: for log timestamps.
inline uint64_t wall_clock_ms() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

}  // namespace arus
