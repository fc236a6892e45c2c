// BackendHealth and BackendState: what every worker knows about one backend (passive
// health from connect results, open connection count). Thread-safe: relaxed atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "arus/balance/backend_slots.hpp"

namespace arus {

// Passive health: each failed connect marks the backend down for a back-off of 1 s,
// doubling per consecutive failure up to 30 s; a successful connect resets it. Once the
// back-off has passed the backend is up again for one more try (a probe by real
// traffic); if that fails the next back-off is twice as long.
//
// Failures reported while the backend is already in back-off (connects that were in
// flight on several workers when it died) do not lengthen the back-off: it grows by one
// step per failed probe, not per worker. Everything lives in one 64-bit word changed by
// compare-and-swap, so concurrent updates never tear or lose a reset.
//
// There is one BackendHealth per (route name, backend HOST:PORT as written), not per
// configuration generation: a reload hands the very object (std::shared_ptr) to the new
// generation for every backend it keeps, so a connect of the old generation that fails
// after a reload and a later success of the new one change the same state, and the
// arus_backend_up gauge, read from marked_up() at every scrape, can never disagree with
// it. Whoever makes a transition (record_* returns true) logs it: exactly one caller,
// whichever thread it runs on. Active health checks (a checker thread) are meant to
// report into this same object, so there is still one state per backend to show.
class BackendHealth {
 public:
  static constexpr uint64_t kFirstBackoffMs = 1000;
  static constexpr uint64_t kMaxBackoffMs = 30000;

  BackendHealth() noexcept = default;
  BackendHealth(const BackendHealth&) = delete;
  BackendHealth& operator=(const BackendHealth&) = delete;

  // True unless in back-off at `now_ms` (CLOCK_MONOTONIC ms, below 2^48).
  bool is_up(uint64_t now_ms) const noexcept { return now_ms >= down_until_ms(); }

  // A failed connect at `now_ms`. Returns true when this call marked a healthy backend
  // down (consecutive_failures() went from 0 to 1): the moment to log "backend down".
  bool record_failure(uint64_t now_ms) noexcept;

  // A successful connect. Returns true when the backend had been marked down
  // (consecutive_failures() > 0): the moment to log "backend up".
  bool record_success() noexcept;

  // arus_backend_up: false from the failure that marked the backend down until the
  // success that marks it up again, including while is_up() lets a probe through.
  bool marked_up() const noexcept { return state_.load(std::memory_order_relaxed) == 0; }

  // 0 when not in back-off.
  uint64_t down_until_ms() const noexcept {
    return state_.load(std::memory_order_relaxed) & kTimeMask;
  }
  // Failed probes since the last success; > 0 means "marked down" (arus_backend_up 0),
  // even while is_up() lets a probe through.
  uint32_t consecutive_failures() const noexcept {
    return static_cast<uint32_t>(state_.load(std::memory_order_relaxed) >> kTimeBits);
  }

 private:
  // state_ = failures << 48 | down_until_ms. Relaxed is enough: it is one word, nothing
  // else is published through it, and a worker acting on a slightly stale view only
  // makes one more or one fewer connect attempt.
  static constexpr unsigned kTimeBits = 48;
  static constexpr uint64_t kTimeMask = (uint64_t{1} << kTimeBits) - 1;
  static constexpr uint64_t kMaxFailures = 0xffff;

  std::atomic<uint64_t> state_{0};
};

// One backend as seen by all workers. Its shared parts (health, slots) are neither
// copyable nor movable; build the states in place, e.g. with make_backend_states() from
// balancer.hpp (Balancer::pick wants a contiguous array), or std::deque::emplace_back.
struct BackendState {
  // 0-256; 0 = drained, never picked. Written before the array is shared with the
  // workers (the hand-over, e.g. a config swap, publishes it) and never changed after.
  uint32_t weight = 1;
  // Identity for source_hash: a hash of the backend's name, so clients keep their
  // backend when a reload reorders or adds backends. 0 = use the index instead.
  uint64_t hash_key = 0;
  // Never null. Shared with every other generation's BackendState of the same (route,
  // backend) and with its stats row; replaced only before the array is shared (a reload
  // hands a kept backend's object over), never after.
  std::shared_ptr<BackendHealth> health = std::make_shared<BackendHealth>();
  // Open connections and the max_connections cap: taken when a connect starts (the
  // balancer's acquire), given back when the connection closes; least_conn reads the
  // count. Never null; shared across generations like `health`.
  std::shared_ptr<BackendSlots> slots = std::make_shared<BackendSlots>();
};

}  // namespace arus
