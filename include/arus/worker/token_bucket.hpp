// TokenBucket: admits `rate` events per second with a burst of `rate`, in integer
// milli-tokens (exact, no drift). Not thread-safe: its owner locks. Time is the caller's
// CLOCK_MONOTONIC milliseconds; a clock that goes back refills nothing, a big jump forward
// refills at most one full bucket.
#pragma once

#include <algorithm>
#include <cstdint>

namespace arus {

class TokenBucket {
 public:
  // Full at `now_ms`.
  TokenBucket(uint64_t rate, uint64_t now_ms) noexcept
      : millitokens_(rate * kMilli), last_ms_(now_ms) {}

  // Refills for the time since the last call, then says whether one token is there.
  // `rate` may change between calls (a reload): the bucket is capped at the new burst.
  bool has_token(uint64_t rate, uint64_t now_ms) noexcept {
    const uint64_t burst = rate * kMilli;
    if (now_ms > last_ms_) {
      // A full refill takes 1000 ms: longer gaps (or a jump) add nothing more, and the
      // product cannot overflow.
      const uint64_t elapsed = std::min<uint64_t>(now_ms - last_ms_, 1000);
      millitokens_ += elapsed * rate;
    }
    last_ms_ = now_ms;  // also when the clock went back: count from here
    millitokens_ = std::min(millitokens_, burst);
    return millitokens_ >= kMilli;
  }
  // Takes the token has_token() found.
  void take() noexcept { millitokens_ -= std::min(millitokens_, kMilli); }

  uint64_t millitokens() const noexcept { return millitokens_; }

 private:
  static constexpr uint64_t kMilli = 1000;
  uint64_t millitokens_;
  uint64_t last_ms_;
};

}  // namespace arus
