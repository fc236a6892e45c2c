// BackendAdmin: what an operator set on one backend through the admin API (SPEC "Admin
// API and reload plan"): drain, disable, a weight. Lives in the backend's shared
// BackendHealth, so it is one state per (route, backend) that survives reloads while
// both exist. Thread-safe: relaxed atomics (a worker reading a stale value makes one
// more or one fewer pick, nothing else depends on it).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

namespace arus {

// ready: as configured. drain: no new connections, open ones continue. disabled: marked
// down, no new connections (open ones continue too: a reload never cuts one, nor does
// this).
enum class AdminState : uint8_t { kReady, kDrain, kDisabled };

std::string_view admin_state_name(AdminState state) noexcept;

class BackendAdmin {
 public:
  static constexpr uint32_t kMaxWeight = 256;

  AdminState state() const noexcept {
    return static_cast<AdminState>(state_.load(std::memory_order_relaxed));
  }
  void set_state(AdminState state) noexcept {
    state_.store(static_cast<uint8_t>(state), std::memory_order_relaxed);
  }
  // The weight set through the admin API, if any (0-256).
  std::optional<uint32_t> weight_override() const noexcept {
    int32_t w = weight_.load(std::memory_order_relaxed);
    return w < 0 ? std::nullopt : std::optional<uint32_t>(static_cast<uint32_t>(w));
  }
  void set_weight(uint32_t weight) noexcept {
    weight_.store(static_cast<int32_t>(weight), std::memory_order_relaxed);
  }
  // enable: back to the configuration's state and weight.
  void reset() noexcept {
    set_state(AdminState::kReady);
    weight_.store(-1, std::memory_order_relaxed);
  }
  // The configured weight of the running generation, for /stats.
  void set_configured_weight(uint32_t weight) noexcept {
    configured_weight_.store(weight, std::memory_order_relaxed);
  }
  uint32_t effective_weight() const noexcept {
    return weight_override().value_or(configured_weight_.load(std::memory_order_relaxed));
  }
  // The weight a balancer uses for a backend configured with `configured`.
  uint32_t weight_for(uint32_t configured) const noexcept {
    return weight_override().value_or(configured);
  }

 private:
  std::atomic<uint8_t> state_{static_cast<uint8_t>(AdminState::kReady)};
  std::atomic<int32_t> weight_{-1};  // -1: the configuration's
  std::atomic<uint32_t> configured_weight_{1};
};

}  // namespace arus
