// BackendHealth and BackendState: what every worker knows about one backend (passive
// health from connect results, open connection count). Thread-safe: relaxed atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "arus/balance/backend_admin.hpp"

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
// it. Whoever makes a transition (record_* or mark_* returns true) logs it: exactly one
// caller, whichever thread it runs on.
//
// Active health checks (the checker thread, health/) report into this same object, so
// there is still one state per backend to show. While the route has checks on
// (set_actively_checked), the back-off no longer lets a probe through: a backend marked
// down (by a failed client connect or by checks) stays down until the checker marks it
// up after `rise` passing checks, and a client connect that succeeds does not clear it.
class BackendHealth {
 public:
  static constexpr uint64_t kFirstBackoffMs = 1000;
  static constexpr uint64_t kMaxBackoffMs = 30000;

  BackendHealth() noexcept = default;
  BackendHealth(const BackendHealth&) = delete;
  BackendHealth& operator=(const BackendHealth&) = delete;

  // May a new client connection go to this backend at `now_ms` (CLOCK_MONOTONIC ms,
  // below 2^48)? Without active checks: unless in back-off. With them: unless marked down.
  bool is_up(uint64_t now_ms) const noexcept {
    return actively_checked() ? marked_up() : now_ms >= down_until_ms();
  }

  // Active checks on or off for this backend (its route's health_check). Turning them off
  // leaves a down backend in plain back-off, so real traffic probes it again.
  void set_actively_checked(bool on) noexcept { checked_.store(on, std::memory_order_relaxed); }
  bool actively_checked() const noexcept { return checked_.load(std::memory_order_relaxed); }

  // The checker's verdicts (after rise/fall). Each returns true when it changed the state:
  // the moment to log backend_down / backend_up.
  bool mark_down_by_check(uint64_t now_ms) noexcept;
  bool mark_up_by_check() noexcept;

  // One check's result, for arus_health_checks_total and /stats. `error`: why it failed,
  // kept as last_error (a copy, truncated to kMaxErrorBytes); null for a passing check,
  // which leaves last_error as it was.
  void count_check(bool ok, const char* error) noexcept;
  uint64_t checks_ok() const noexcept { return checks_ok_.load(std::memory_order_relaxed); }
  uint64_t checks_failed() const noexcept {
    return checks_failed_.load(std::memory_order_relaxed);
  }
  // Why the last failing check failed; empty when none has.
  std::string last_error() const;
  // arus_backend_state_changes_total: every up -> down and down -> up, whoever made it.
  uint64_t state_changes() const noexcept {
    return state_changes_.load(std::memory_order_relaxed);
  }
  static constexpr size_t kMaxErrorBytes = 95;

  // A failed connect at `now_ms`. Returns true when this call marked a healthy backend
  // down (consecutive_failures() went from 0 to 1): the moment to log "backend down".
  bool record_failure(uint64_t now_ms) noexcept;

  // A successful connect. Returns true when the backend had been marked down
  // (consecutive_failures() > 0): the moment to log "backend up". With active checks on
  // it changes nothing: only checks bring a down backend back.
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
  std::atomic<bool> checked_{false};
  std::atomic<uint64_t> checks_ok_{0};
  std::atomic<uint64_t> checks_failed_{0};
  std::atomic<uint64_t> state_changes_{0};
  // Written by the checker thread per failed check, read at scrape: a fixed buffer, so
  // writing never allocates.
  mutable std::mutex error_mutex_;
  char last_error_[kMaxErrorBytes + 1] = {};  // guarded by error_mutex_

 public:
  // What the admin API set on this backend: shared, and handed over, with the health.
  BackendAdmin admin;
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
