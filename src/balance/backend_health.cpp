// BackendHealth: back-off bookkeeping in one atomic word. Thread-safe (lock-free CAS).
#include "arus/balance/backend_health.hpp"

#include <algorithm>

namespace arus {

std::string_view admin_state_name(AdminState state) noexcept {
  switch (state) {
    case AdminState::kDrain:
      return "drain";
    case AdminState::kDisabled:
      return "disabled";
    case AdminState::kReady:
      break;
  }
  return "ready";
}

bool BackendHealth::record_failure(uint64_t now_ms) noexcept {
  now_ms = std::min(now_ms, kTimeMask);
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    const uint64_t down_until = old & kTimeMask;
    const uint64_t failures = old >> kTimeBits;
    // Already in back-off: a connect that was in flight when the backend went down
    // (often on another worker). It says nothing new, so the back-off does not grow.
    if (now_ms < down_until) return false;
    const uint64_t next_failures = std::min(failures + 1, kMaxFailures);
    // 1 s, 2 s, 4 s, 8 s, 16 s, then 30 s (the shift stays small for huge counts).
    const uint64_t backoff =
        std::min(kFirstBackoffMs << std::min<uint64_t>(next_failures - 1, 5), kMaxBackoffMs);
    const uint64_t desired = next_failures << kTimeBits | std::min(now_ms + backoff, kTimeMask);
    if (state_.compare_exchange_weak(old, desired, std::memory_order_relaxed)) {
      return failures == 0;
    }
  }
}

bool BackendHealth::record_success() noexcept {
  // Nearly every connect succeeds: read first so healthy backends never have their cache
  // line written by every worker. down_until is never 0 while failures > 0, so the word
  // is 0 exactly when the backend is not marked down.
  if (state_.load(std::memory_order_relaxed) == 0) return false;
  return state_.exchange(0, std::memory_order_relaxed) != 0;
}

}  // namespace arus
