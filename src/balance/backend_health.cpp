// BackendHealth: back-off bookkeeping in one atomic word, plus the checker's counters.
// Thread-safe (lock-free CAS; a mutex only around last_error).
#include "arus/balance/backend_health.hpp"

#include <algorithm>
#include <cstring>

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
      if (failures == 0) state_changes_.fetch_add(1, std::memory_order_relaxed);
      return failures == 0;
    }
  }
}

bool BackendHealth::mark_down_by_check(uint64_t now_ms) noexcept {
  // Shaped like a first failed connect, so that if checks are turned off later the
  // backend is simply in back-off and real traffic probes it again.
  uint64_t expected = 0;
  const uint64_t desired =
      uint64_t{1} << kTimeBits | std::min(std::min(now_ms, kTimeMask) + kFirstBackoffMs, kTimeMask);
  if (!state_.compare_exchange_strong(expected, desired, std::memory_order_relaxed)) return false;
  state_changes_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool BackendHealth::mark_up_by_check() noexcept {
  if (state_.exchange(0, std::memory_order_relaxed) == 0) return false;
  state_changes_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void BackendHealth::count_check(bool ok, const char* error) noexcept {
  (ok ? checks_ok_ : checks_failed_).fetch_add(1, std::memory_order_relaxed);
  if (error == nullptr) return;
  std::lock_guard lock(error_mutex_);
  std::strncpy(last_error_, error, kMaxErrorBytes);
  last_error_[kMaxErrorBytes] = '\0';
}

std::string BackendHealth::last_error() const {
  std::lock_guard lock(error_mutex_);
  return std::string(last_error_);
}

bool BackendHealth::record_success() noexcept {
  // Nearly every connect succeeds: read first so healthy backends never have their cache
  // line written by every worker. down_until is never 0 while failures > 0, so the word
  // is 0 exactly when the backend is not marked down.
  if (state_.load(std::memory_order_relaxed) == 0) return false;
  if (actively_checked()) return false;
  if (state_.exchange(0, std::memory_order_relaxed) == 0) return false;
  state_changes_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace arus
