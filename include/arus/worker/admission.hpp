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
    uint64_t limit = limit_.load(std::memory_order_relaxed);
    if (limit != 0 && before >= limit) {
      active_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  void leave() noexcept { active_.fetch_sub(1, std::memory_order_relaxed); }

  uint64_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  uint64_t limit() const noexcept { return limit_.load(std::memory_order_relaxed); }
  // A reload changed the cap; connections above a lowered cap are left to finish.
  void set_limit(uint64_t limit) noexcept { limit_.store(limit, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> active_{0};
  std::atomic<uint64_t> limit_;
};

}  // namespace arus
