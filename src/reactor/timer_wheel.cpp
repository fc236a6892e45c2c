// TimerWheel: hierarchical timing wheel. Single-threaded: owned by one reactor.
//
// Placement rule (the invariant everything relies on): a timer with expiry e > now_ms_
// sits on level L = the highest 6-bit digit in which e and now_ms_ differ, in slot
// digit_L(e). Its digits above L equal now_ms_'s, and digit_L(e) > digit_L(now_ms_). So
// every timer on level L expires before every timer on level L+1, and when the clock
// moves, only the slots whose digit the clock has reached or passed need looking at.
// A postponed timer keeps its place (schedule()): its slot is then earlier than its
// expiry, never later, so it is looked at in time, found not due, and placed again.
#include "arus/reactor/timer_wheel.hpp"

#include <bit>
#include <cassert>
#include <limits>

namespace arus {
namespace {

constexpr unsigned kDigitBits = 6;  // log2(kSlotsPerLevel)
constexpr uint64_t kDigitMask = 63;
static_assert(uint64_t{1} << kDigitBits == TimerWheel::kSlotsPerLevel);

// Digits 0..d set.
constexpr uint64_t bits_through(uint64_t d) noexcept {
  return d >= 63 ? ~uint64_t{0} : (uint64_t{2} << d) - 1;
}

}  // namespace

Timer::~Timer() {
  if (wheel_ != nullptr) wheel_->cancel(*this);
}

TimerWheel::TimerWheel(uint64_t now_ms) noexcept : now_ms_(now_ms) {}

TimerWheel::~TimerWheel() {
  // Timers may outlive the wheel; leave them unscheduled so ~Timer does not touch us.
  for (Timer*& head : heads_) {
    for (Timer* t = head; t != nullptr;) {
      Timer* next = t->next_;
      t->wheel_ = nullptr;
      t->prev_ = t->next_ = nullptr;
      t = next;
    }
    head = nullptr;
  }
}

void TimerWheel::schedule(Timer& timer, uint64_t expiry_ms) noexcept {
  // Postponed while it waits in a slot (the common case: a connect timeout followed by
  // the idle timeout, an idle deadline pushed on): it stays where it is, placed by an
  // earlier expiry. When advance() reaches that slot it finds the timer not due and
  // places it by its new expiry, as it does every cascading timer. So postponing touches
  // only the timer, not its neighbours in a list (cache misses with many timers), and a
  // timer pushed on many times moves once per cascade, not once per push.
  if (timer.wheel_ == this && timer.list_ <= kOverflow && expiry_ms >= timer.expiry_ms_) {
    timer.expiry_ms_ = expiry_ms;
    return;
  }
  if (timer.wheel_ != nullptr) timer.wheel_->cancel(timer);
  timer.expiry_ms_ = expiry_ms;
  timer.wheel_ = this;
  ++size_;
  place(timer);
}

void TimerWheel::cancel(Timer& timer) noexcept {
  if (timer.wheel_ != this) {
    if (timer.wheel_ != nullptr) timer.wheel_->cancel(timer);
    return;
  }
  unlink(timer);
  timer.wheel_ = nullptr;
  --size_;
}

void TimerWheel::place(Timer& timer) noexcept {
  const uint64_t expiry = timer.expiry_ms_;
  if (expiry <= now_ms_) {
    push(timer, kDue);
    return;
  }
  const unsigned level = static_cast<unsigned>(std::bit_width(expiry ^ now_ms_) - 1) / kDigitBits;
  if (level >= kLevels) {
    push(timer, kOverflow);
    return;
  }
  const unsigned slot = (expiry >> (level * kDigitBits)) & kDigitMask;
  push(timer, static_cast<uint16_t>(level * kSlotsPerLevel + slot));
  occupied_[level] |= uint64_t{1} << slot;
}

void TimerWheel::push(Timer& timer, uint16_t list) noexcept {
  timer.list_ = list;
  timer.prev_ = nullptr;
  timer.next_ = heads_[list];
  if (timer.next_ != nullptr) timer.next_->prev_ = &timer;
  heads_[list] = &timer;
}

void TimerWheel::unlink(Timer& timer) noexcept {
  const uint16_t list = timer.list_;
  if (timer.prev_ != nullptr) {
    timer.prev_->next_ = timer.next_;
  } else {
    assert(heads_[list] == &timer);
    heads_[list] = timer.next_;
  }
  if (timer.next_ != nullptr) timer.next_->prev_ = timer.prev_;
  timer.prev_ = timer.next_ = nullptr;
  if (list < kOverflow && heads_[list] == nullptr) {
    occupied_[list / kSlotsPerLevel] &= ~(uint64_t{1} << (list % kSlotsPerLevel));
  }
}

void TimerWheel::advance(uint64_t now_ms) noexcept {
  // Build the firing list in order: appending keeps level-0 slots in expiry order.
  Timer* tail = heads_[kFiring];  // non-empty only if a callback calls advance()
  while (tail != nullptr && tail->next_ != nullptr) tail = tail->next_;
  auto append_firing = [&](Timer* t) {
    t->list_ = kFiring;
    t->prev_ = tail;
    t->next_ = nullptr;
    if (tail != nullptr) {
      tail->next_ = t;
    } else {
      heads_[kFiring] = t;
    }
    tail = t;
  };
  // Detaches a whole list; its timers are then either due or placed on a lower level
  // (or, for the overflow list, anywhere), never back into a list still to be walked.
  auto drain = [&](uint16_t list) {
    Timer* t = heads_[list];
    heads_[list] = nullptr;
    while (t != nullptr) {
      Timer* next = t->next_;
      if (t->expiry_ms_ <= now_ms_) {
        append_firing(t);
      } else {
        place(*t);
      }
      t = next;
    }
  };

  drain(kDue);  // now_ms_ unchanged yet: everything in it is due
  if (now_ms > now_ms_) {
    const uint64_t old_ms = now_ms_;
    now_ms_ = now_ms;
    int level = 0;
    for (; level < kLevels; ++level) {
      const unsigned shift = static_cast<unsigned>(level) * kDigitBits;
      const bool same_above = (old_ms >> (shift + kDigitBits)) == (now_ms >> (shift + kDigitBits));
      // Same digits above: the slots after the old digit up to the new one were reached;
      // their timers are due or belong lower now. Otherwise the clock went past the end
      // of this level's span: every timer on it has expired.
      const uint64_t reached = same_above ? bits_through((now_ms >> shift) & kDigitMask) &
                                                ~bits_through((old_ms >> shift) & kDigitMask)
                                          : ~uint64_t{0};
      uint64_t hit = occupied_[level] & reached;
      occupied_[level] &= ~reached;  // place() only fills lower levels from here
      for (; hit != 0; hit &= hit - 1) {
        drain(static_cast<uint16_t>(level * kSlotsPerLevel + std::countr_zero(hit)));
      }
      if (same_above) break;  // higher digits did not move
    }
    if (level == kLevels) drain(kOverflow);
  }

  while (Timer* t = heads_[kFiring]) {
    unlink(*t);
    t->wheel_ = nullptr;
    --size_;
    t->on_timer();  // may schedule, cancel or destroy any timer, `t` included
  }
}

int64_t TimerWheel::ms_until_next(uint64_t now_ms) const noexcept {
  if (size_ == 0) return -1;
  if (heads_[kDue] != nullptr || heads_[kFiring] != nullptr) return 0;
  // Lower levels expire first, so the first occupied slot of the lowest occupied level
  // holds the earliest timer; its start time is exact on level 0 and a lower bound above
  // (the wake-up then cascades that slot, and the next answer is finer).
  uint64_t when = std::numeric_limits<uint64_t>::max();
  bool found = false;
  for (int level = 0; level < kLevels && !found; ++level) {
    if (occupied_[level] == 0) continue;
    const unsigned shift = static_cast<unsigned>(level) * kDigitBits;
    const uint64_t above = (now_ms_ >> (shift + kDigitBits)) << (shift + kDigitBits);
    when = above | (static_cast<uint64_t>(std::countr_zero(occupied_[level])) << shift);
    found = true;
  }
  if (!found) {
    // Only the overflow list holds timers: wake when the outer level wraps.
    const unsigned span = kLevels * kDigitBits;
    when = ((now_ms_ >> span) + 1) << span;
  }
  if (when <= now_ms) return 0;
  const uint64_t wait = when - now_ms;
  return wait > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
             ? std::numeric_limits<int64_t>::max()
             : static_cast<int64_t>(wait);
}

}  // namespace arus
