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
  Timer* prev_ = nullptr;        // neighbours in the list named by list_
  Timer* next_ = nullptr;
  uint64_t expiry_ms_ = 0;
  uint16_t list_ = 0;  // which of the wheel's lists holds it: unlink needs no search
};

class TimerWheel {
 public:
  // 64^6 ms is about 2.2 years: every timeout fits; a later expiry waits in an overflow
  // list that is sorted back into the wheel when the outer level wraps.
  static constexpr int kLevels = 6;
  static constexpr int kSlotsPerLevel = 64;

  explicit TimerWheel(uint64_t now_ms) noexcept;
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // (Re)schedules `timer` to fire at `expiry_ms`; an expiry not after the wheel's current
  // time fires at the next advance(). Postponing a scheduled timer only records the new
  // expiry (O(1), no other timer touched); the wheel moves it when its old slot comes up.
  void schedule(Timer& timer, uint64_t expiry_ms) noexcept;
  void cancel(Timer& timer) noexcept;

  // Moves the wheel to `now_ms` and fires every timer whose expiry is <= now_ms. Costs
  // O(kLevels) plus O(1) per timer moved or fired, however far now_ms jumps. Advancing a
  // millisecond at a time fires in expiry order; one long jump promises no order. A timer
  // (re)scheduled by a callback for a time <= now_ms fires at the next advance(), never
  // in this one, so a callback cannot keep advance() busy forever.
  void advance(uint64_t now_ms) noexcept;

  // How long the reactor may sleep before the next advance() could fire a timer:
  // milliseconds from now_ms (0 if one is due), or -1 when nothing is scheduled.
  // Never later than the earliest expiry; may be earlier for timers on outer levels and
  // for postponed timers.
  int64_t ms_until_next(uint64_t now_ms) const noexcept;

  size_t size() const noexcept { return size_; }

 private:
  // Lists 0 .. kLevels*kSlotsPerLevel-1 are the wheel's slots; then three more:
  static constexpr uint16_t kOverflow = kLevels * kSlotsPerLevel;  // beyond 64^6 ms ahead
  static constexpr uint16_t kDue = kOverflow + 1;                  // fires at the next advance()
  static constexpr uint16_t kFiring = kOverflow + 2;               // being fired by this advance()
  static constexpr int kLists = kOverflow + 3;

  void place(Timer& timer) noexcept;  // into the list its expiry and now_ms_ call for
  void push(Timer& timer, uint16_t list) noexcept;
  void unlink(Timer& timer) noexcept;
  void collect(uint16_t list, Timer*& pending) noexcept;  // empties `list` into `pending`

  uint64_t now_ms_;
  size_t size_ = 0;
  uint64_t occupied_[kLevels] = {};  // bit s set when slot s of that level is non-empty
  Timer* heads_[kLists] = {};
};

}  // namespace arus
