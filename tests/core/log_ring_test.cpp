// LogRing: whole lines in, oldest bytes out, wrap-around as two pieces, full means no.
#include "arus/core/log_ring.hpp"

#include <gtest/gtest.h>

#include <string>

namespace arus::log {
namespace {

std::string held(const LogRing& ring) {
  iovec pieces[2];
  int count = ring.peek(pieces);
  std::string out;
  for (int i = 0; i < count; ++i)
    out.append(static_cast<char*>(pieces[i].iov_base), pieces[i].iov_len);
  return out;
}

TEST(LogRing, KeepsLinesInOrderAndConsumesFromTheFront) {
  LogRing ring(16);
  EXPECT_TRUE(ring.empty());
  EXPECT_TRUE(ring.push("one\n"));
  EXPECT_TRUE(ring.push("two\n"));
  EXPECT_EQ(held(ring), "one\ntwo\n");
  ring.consume(4);
  EXPECT_EQ(held(ring), "two\n");
  EXPECT_EQ(ring.used(), 4u);
}

TEST(LogRing, ALineThatDoesNotFitIsRefusedWhole) {
  LogRing ring(10);
  EXPECT_TRUE(ring.push("123456\n"));
  EXPECT_FALSE(ring.push("abcd\n"));  // 5 bytes, 3 free: nothing of it goes in
  EXPECT_EQ(held(ring), "123456\n");
  EXPECT_FALSE(ring.push("far too long for it\n"));
  EXPECT_TRUE(ring.push("ab\n"));  // exactly fills it
  EXPECT_EQ(ring.free_bytes(), 0u);
}

TEST(LogRing, WrapsAroundAsTwoPieces) {
  LogRing ring(10);
  ASSERT_TRUE(ring.push("1234567\n"));
  ring.consume(6);  // "7\n" left at the end of the buffer
  ASSERT_TRUE(ring.push("abcdef\n"));
  iovec pieces[2];
  ASSERT_EQ(ring.peek(pieces), 2);
  EXPECT_EQ(pieces[0].iov_len, 4u);  // "7\nab"
  EXPECT_EQ(pieces[1].iov_len, 5u);  // "cdef\n"
  EXPECT_EQ(held(ring), "7\nabcdef\n");
  ring.consume(9);
  EXPECT_TRUE(ring.empty());
  ASSERT_TRUE(ring.push("0123456789"));  // empty again: starts at the front, one piece
  EXPECT_EQ(ring.peek(pieces), 1);
}

}  // namespace
}  // namespace arus::log
