// CheckState: consecutive counts against rise and fall.
#include "arus/health/check_state.hpp"

namespace arus {

CheckState::Verdict CheckState::on_check(bool ok, bool currently_up) noexcept {
  if (currently_up) {
    successes_ = 0;  // a passive mark-down cleared by someone else restarts the climb
    if (ok) {
      failures_ = 0;
      return Verdict::kNone;
    }
    if (++failures_ < fall_) return Verdict::kNone;
    failures_ = 0;
    return Verdict::kMarkDown;
  }
  failures_ = 0;  // a down backend's failures (checks or clients) say nothing new
  if (!ok) {
    successes_ = 0;
    return Verdict::kNone;
  }
  if (++successes_ < rise_) return Verdict::kNone;
  successes_ = 0;
  return Verdict::kMarkUp;
}

}  // namespace arus
