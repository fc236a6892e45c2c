// CheckState: the rise/fall hysteresis of one backend's active checks. Pure logic, no
// clock and no I/O; owned by the checker thread (not thread-safe).
#pragma once

#include <cstdint>

namespace arus {

class CheckState {
 public:
  enum class Verdict { kNone, kMarkDown, kMarkUp };

  CheckState(uint32_t rise, uint32_t fall) noexcept : rise_(rise), fall_(fall) {}

  // A reload may change rise and fall; the running counts stay.
  void set_thresholds(uint32_t rise, uint32_t fall) noexcept {
    rise_ = rise;
    fall_ = fall;
  }

  // One check's result. `currently_up`: the backend's shared state now (BackendHealth::
  // marked_up()), which a failed client connect may have turned down since the last
  // check (passive marking): such a backend then needs `rise` passing checks like any
  // other down one. Returns what to do to the shared state:
  //   up,   `fall` failures in a row  -> kMarkDown
  //   down, `rise` successes in a row -> kMarkUp
  Verdict on_check(bool ok, bool currently_up) noexcept;

  uint32_t successes() const noexcept { return successes_; }  // in a row, while down
  uint32_t failures() const noexcept { return failures_; }    // in a row, while up

 private:
  uint32_t rise_;
  uint32_t fall_;
  uint32_t successes_ = 0;
  uint32_t failures_ = 0;
};

}  // namespace arus
