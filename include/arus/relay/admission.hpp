// Admission: a connection count with a cap (max_connections), shared by all workers.
// Thread-safe: one relaxed atomic; the cap is checked and taken in one step.
#pragma once

#include <atomic>
#include <cstdint>

namespace arus {

class Admission {
 public:
  explicit Admission(uint64_t limit) noexcept : limit_(limit) {}

  // Takes a slot; false (and nothing taken) when `limit` slots are in use. 0 = no cap.
  bool try_enter() noexcept {
    uint64_t before = active_.fetch_add(1, std::memory_order_relaxed);
    if (limit_ != 0 && before >= limit_) {
      active_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  void leave() noexcept { active_.fetch_sub(1, std::memory_order_relaxed); }

  uint64_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  uint64_t limit() const noexcept { return limit_; }

 private:
  std::atomic<uint64_t> active_{0};
  const uint64_t limit_;
};

}  // namespace arus
