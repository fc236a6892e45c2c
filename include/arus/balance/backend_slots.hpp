// BackendSlots: one backend's open connections and its max_connections cap, shared by
// every worker and every configuration generation that has the backend. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace arus {

// Like BackendHealth, there is one per (route name, backend HOST:PORT as written): a
// reload hands the very object to the new generation, so connections still open on the
// old one keep counting against the cap, and the commit applies the new cap (set_cap).
// A lowered cap cuts nothing: open connections above it finish, no new one starts.
class BackendSlots {
 public:
  explicit BackendSlots(uint32_t cap = 0) noexcept : cap_(cap) {}
  BackendSlots(const BackendSlots&) = delete;
  BackendSlots& operator=(const BackendSlots&) = delete;

  // Takes a slot; false (nothing taken) when the backend is at its cap. 0 = no cap.
  bool try_acquire() noexcept {
    const uint32_t cap = cap_.load(std::memory_order_relaxed);
    if (cap == 0) {
      active_.fetch_add(1, std::memory_order_seq_cst);
      return true;
    }
    uint32_t active = active_.load(std::memory_order_seq_cst);
    do {
      if (active >= cap) return false;
    } while (!active_.compare_exchange_weak(active, active + 1, std::memory_order_seq_cst));
    return true;
  }
  // Gives a slot back. seq_cst: BackendQueue::release relies on this store being ordered
  // before its look at the queue length (see there).
  void release() noexcept { active_.fetch_sub(1, std::memory_order_seq_cst); }

  // A hint (the count may change at once): the balancer's "is there room" test.
  bool has_room() const noexcept {
    const uint32_t cap = cap_.load(std::memory_order_relaxed);
    return cap == 0 || active_.load(std::memory_order_relaxed) < cap;
  }
  uint32_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  uint32_t cap() const noexcept { return cap_.load(std::memory_order_relaxed); }
  void set_cap(uint32_t cap) noexcept { cap_.store(cap, std::memory_order_relaxed); }

 private:
  std::atomic<uint32_t> active_{0};
  std::atomic<uint32_t> cap_;
};

}  // namespace arus
