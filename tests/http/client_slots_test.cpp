// choose_slot: who is admitted, who is closed to make room, who is refused (issue 12).
#include "arus/http/client_slots.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace arus {
namespace {

SourceKey ipv4(unsigned char last) { return SourceKey(std::string{'\x7f', 0, 0, char(last)}); }

ClientSlot busy(SourceKey source) { return ClientSlot{source, false, 0}; }
ClientSlot idle(SourceKey source, uint64_t order) { return ClientSlot{source, true, order}; }

using Action = SlotChoice::Action;
using Cap = SlotChoice::Cap;

TEST(ClientSlots, AdmitsBelowBothCaps) {
  std::vector<ClientSlot> open{busy(ipv4(1)), idle(ipv4(2), 5)};
  SlotChoice choice = choose_slot(open, ipv4(1), SlotLimits{3, 2});
  EXPECT_EQ(choice.action, Action::kAdmit);
  EXPECT_EQ(choice.cap, Cap::kNone);
}

TEST(ClientSlots, FullTableClosesTheClientIdleTheLongest) {
  std::vector<ClientSlot> open{idle(ipv4(1), 9), busy(ipv4(2)), idle(ipv4(3), 4), idle(ipv4(4), 7)};
  SlotChoice choice = choose_slot(open, ipv4(5), SlotLimits{4, 0});
  EXPECT_EQ(choice.action, Action::kCloseThenAdmit);
  EXPECT_EQ(choice.cap, Cap::kTotal);
  EXPECT_EQ(choice.victim, 2u);
}

TEST(ClientSlots, FullTableWithNobodyIdleRefuses) {
  std::vector<ClientSlot> open{busy(ipv4(1)), busy(ipv4(2))};
  SlotChoice choice = choose_slot(open, ipv4(3), SlotLimits{2, 0});
  EXPECT_EQ(choice.action, Action::kRefuse);
  EXPECT_EQ(choice.cap, Cap::kTotal);
}

TEST(ClientSlots, SourceAtItsCapClosesItsOwnOldestIdleClientOnly) {
  // Another source's client is idle longer, but a source only ever makes room among its own.
  std::vector<ClientSlot> open{idle(ipv4(2), 1), idle(ipv4(1), 8), busy(ipv4(1)), idle(ipv4(1), 3)};
  SlotChoice choice = choose_slot(open, ipv4(1), SlotLimits{10, 3});
  EXPECT_EQ(choice.action, Action::kCloseThenAdmit);
  EXPECT_EQ(choice.cap, Cap::kSource);
  EXPECT_EQ(choice.victim, 3u);
}

TEST(ClientSlots, SourceWithEveryClientBusyIsRefusedEvenWithRoomLeft) {
  std::vector<ClientSlot> open{busy(ipv4(1)), busy(ipv4(1)), idle(ipv4(2), 1)};
  SlotChoice choice = choose_slot(open, ipv4(1), SlotLimits{10, 2});
  EXPECT_EQ(choice.action, Action::kRefuse);
  EXPECT_EQ(choice.cap, Cap::kSource);
  EXPECT_EQ(choose_slot(open, ipv4(3), SlotLimits{10, 2}).action, Action::kAdmit)
      << "other sources are unaffected";
}

TEST(ClientSlots, ZeroPerSourceCapMeansNone) {
  std::vector<ClientSlot> open(5, busy(ipv4(1)));
  EXPECT_EQ(choose_slot(open, ipv4(1), SlotLimits{6, 0}).action, Action::kAdmit);
}

TEST(ClientSlots, ZeroMaxClientsRefusesEveryone) {
  EXPECT_EQ(choose_slot({}, ipv4(1), SlotLimits{0, 0}).action, Action::kRefuse);
}

TEST(ClientSlots, SourcesDifferByAddressAndFamily) {
  std::string v6(16, '\0');
  v6[15] = 1;
  EXPECT_EQ(ipv4(1), ipv4(1));
  EXPECT_NE(ipv4(1), ipv4(2));
  EXPECT_NE(SourceKey(v6), ipv4(1));
  EXPECT_EQ(SourceKey(v6), SourceKey(v6));
}

}  // namespace
}  // namespace arus
