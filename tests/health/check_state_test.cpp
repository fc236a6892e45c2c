// Tests for CheckState: rise/fall hysteresis and its interplay with passive marking.
#include <gtest/gtest.h>

#include "arus/balance/backend_health.hpp"
#include "arus/health/check_state.hpp"

namespace arus {
namespace {

using Verdict = CheckState::Verdict;

// Feeds results to `state` against a BackendHealth, applying verdicts as the checker
// does; returns the verdict of the last result.
struct Harness {
  CheckState state{2, 3};
  BackendHealth health;
  Verdict check(bool ok) {
    Verdict v = state.on_check(ok, health.marked_up());
    if (v == Verdict::kMarkDown) health.mark_down_by_check(1000);
    if (v == Verdict::kMarkUp) health.mark_up_by_check();
    return v;
  }
};

TEST(CheckState, FallFailuresInARowMarkDown) {
  CheckState state(2, 3);
  EXPECT_EQ(state.on_check(false, true), Verdict::kNone);
  EXPECT_EQ(state.on_check(false, true), Verdict::kNone);
  EXPECT_EQ(state.on_check(false, true), Verdict::kMarkDown);
}

TEST(CheckState, ASuccessResetsTheFailures) {
  CheckState state(2, 3);
  state.on_check(false, true);
  state.on_check(false, true);
  EXPECT_EQ(state.on_check(true, true), Verdict::kNone);
  EXPECT_EQ(state.failures(), 0u);
  EXPECT_EQ(state.on_check(false, true), Verdict::kNone);
  EXPECT_EQ(state.on_check(false, true), Verdict::kNone);
  EXPECT_EQ(state.on_check(false, true), Verdict::kMarkDown);
}

TEST(CheckState, RiseSuccessesInARowMarkUp) {
  CheckState state(2, 3);
  EXPECT_EQ(state.on_check(true, false), Verdict::kNone);
  EXPECT_EQ(state.on_check(false, false), Verdict::kNone);  // resets the climb
  EXPECT_EQ(state.on_check(true, false), Verdict::kNone);
  EXPECT_EQ(state.on_check(true, false), Verdict::kMarkUp);
}

TEST(CheckState, RiseAndFallOfOneAct_at_once) {
  CheckState state(1, 1);
  EXPECT_EQ(state.on_check(false, true), Verdict::kMarkDown);
  EXPECT_EQ(state.on_check(true, false), Verdict::kMarkUp);
}

TEST(CheckState, NewThresholdsKeepTheCounts) {
  CheckState state(5, 5);
  state.on_check(false, true);
  state.on_check(false, true);
  state.set_thresholds(5, 3);
  EXPECT_EQ(state.on_check(false, true), Verdict::kMarkDown);
}

TEST(CheckState, PassiveMarkDownNeedsRisePassingChecks) {
  Harness h;
  h.health.set_actively_checked(true);
  EXPECT_EQ(h.check(true), Verdict::kNone);
  // A client's connect fails between two checks: the backend is down at once.
  EXPECT_TRUE(h.health.record_failure(5000));
  EXPECT_FALSE(h.health.is_up(5000));
  // Its back-off passing does not bring it back while checks are on...
  EXPECT_FALSE(h.health.is_up(5000 + 60'000));
  // ...nor does a client connect that was in flight and succeeded.
  EXPECT_FALSE(h.health.record_success());
  EXPECT_FALSE(h.health.marked_up());
  // Only `rise` (2) passing checks do.
  EXPECT_EQ(h.check(true), Verdict::kNone);
  EXPECT_FALSE(h.health.is_up(70'000));
  EXPECT_EQ(h.check(true), Verdict::kMarkUp);
  EXPECT_TRUE(h.health.is_up(70'000));
  EXPECT_EQ(h.health.state_changes(), 2u);
}

TEST(CheckState, PartialFailuresThenPassiveDownThenBackUp) {
  Harness h;
  h.health.set_actively_checked(true);
  h.check(false);
  h.check(false);  // one more would mark it down
  EXPECT_TRUE(h.health.record_failure(1000));
  EXPECT_EQ(h.check(false), Verdict::kNone);  // already down: nothing to mark
  EXPECT_EQ(h.check(true), Verdict::kNone);
  EXPECT_EQ(h.check(true), Verdict::kMarkUp);
  // Back up, it needs a full `fall` again to go down.
  EXPECT_EQ(h.check(false), Verdict::kNone);
  EXPECT_EQ(h.check(false), Verdict::kNone);
  EXPECT_EQ(h.check(false), Verdict::kMarkDown);
  EXPECT_FALSE(h.health.marked_up());
}

TEST(CheckState, ChecksTurnedOffLeaveAPlainBackOff) {
  Harness h;
  h.health.set_actively_checked(true);
  h.check(false);
  h.check(false);
  h.check(false);
  EXPECT_FALSE(h.health.is_up(1000 + 60'000));
  h.health.set_actively_checked(false);
  // Now real traffic probes it once the back-off (from the check's mark) has passed.
  EXPECT_TRUE(h.health.is_up(1000 + BackendHealth::kFirstBackoffMs));
  EXPECT_TRUE(h.health.record_success());
  EXPECT_TRUE(h.health.marked_up());
}

TEST(CheckState, CountsChecksAndKeepsTheLastError) {
  BackendHealth health;
  EXPECT_EQ(health.last_error(), "");
  health.count_check(false, "connect: Connection refused");
  health.count_check(true, nullptr);
  health.count_check(true, nullptr);
  EXPECT_EQ(health.checks_ok(), 2u);
  EXPECT_EQ(health.checks_failed(), 1u);
  EXPECT_EQ(health.last_error(), "connect: Connection refused");
  std::string long_error(500, 'x');
  health.count_check(false, long_error.c_str());
  EXPECT_EQ(health.last_error(), std::string(BackendHealth::kMaxErrorBytes, 'x'));
}

}  // namespace
}  // namespace arus
