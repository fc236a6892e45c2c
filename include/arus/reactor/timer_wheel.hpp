// TimerWheel: a hierarchical timing wheel (millisecond ticks, 64 slots per level) with
// intrusive timers, so schedule, cancel and firing cost O(1) per timer whatever the
// number of connections. Single-threaded: owned by one reactor.
#pragma once

#include <cstddef>
#include <cstdint>

namespace arus {

class TimerWheel;

// A timer embedded in its owner (no allocation). The owner must cancel it, or let it
// fire, before the timer is destroyed; ~Timer cancels as a safety net.
class Timer {
 public:
  Timer() noexcept = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  bool scheduled() const noexcept { return wheel_ != nullptr; }
  uint64_t expiry_ms() const noexcept { return expiry_ms_; }

  // Runs on the reactor thread once expiry_ms has passed. May schedule or cancel any
  // timer, this one included.
  virtual void on_timer() noexcept = 0;

 protected:
  ~Timer();

 private:
  friend class TimerWheel;
  TimerWheel* wheel_ = nullptr;  // set while scheduled
  Timer* prev_ = nullptr;
  Timer* next_ = nullptr;
  uint64_t expiry_ms_ = 0;
};

class TimerWheel {
 public:
  static constexpr int kLevels = 6;        // 64^6 ms > 2000 years: every timeout fits
  static constexpr int kSlotsPerLevel = 64;

  explicit TimerWheel(uint64_t now_ms) noexcept;
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // (Re)schedules `timer` to fire at `expiry_ms`; an expiry not after the wheel's current
  // time fires at the next advance().
  void schedule(Timer& timer, uint64_t expiry_ms) noexcept;
  void cancel(Timer& timer) noexcept;

  // Moves the wheel to `now_ms` and fires every timer whose expiry is <= now_ms.
  void advance(uint64_t now_ms) noexcept;

  // How long the reactor may sleep before the next advance() could fire a timer:
  // milliseconds from now_ms (0 if one is due), or -1 when nothing is scheduled.
  // Never later than the earliest expiry; may be earlier for timers on outer levels.
  int64_t ms_until_next(uint64_t now_ms) const noexcept;

  size_t size() const noexcept { return size_; }

 private:
  struct Slot {
    Timer* head = nullptr;
  };
  void link(Timer& timer) noexcept;
  void unlink(Timer& timer) noexcept;
  void cascade(int level) noexcept;

  uint64_t now_ms_;
  size_t size_ = 0;
  uint64_t occupied_[kLevels] = {};  // bit s set when slot s of that level is non-empty
  Slot slots_[kLevels][kSlotsPerLevel];
  Timer* due_ = nullptr;  // expired timers collected during advance()
};

}  // namespace arus
