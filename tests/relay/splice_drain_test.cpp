// proves_drained and proves_end: what a short splice into a pipe proves about the TCP
// socket it read: drained, or at its end.
#include "arus/relay/splice_drain.hpp"

#include <gtest/gtest.h>

namespace arus {
namespace {

// A 64-slot pipe (256 KiB), empty, asked for all of it: the keep-alive case.
SpliceRead small_read(size_t got) {
  return SpliceRead{.got = got, .asked = 256 * 1024, .pipe_bytes_before = 0, .pipe_slots = 64};
}

TEST(SpliceDrain, FewerBytesThanFreeSlotsProveTheSocketDrained) {
  EXPECT_TRUE(proves_drained(small_read(1)));
  EXPECT_TRUE(proves_drained(small_read(63))) << "63 bytes fill at most 63 of 64 slots";
}

TEST(SpliceDrain, AsManyBytesAsSlotsMayHaveFilledThePipe) {
  EXPECT_FALSE(proves_drained(small_read(64))) << "64 one-byte buffers fill 64 slots";
  EXPECT_FALSE(proves_drained(small_read(1000)));
}

TEST(SpliceDrain, BytesAlreadyInThePipeCountAsSlotsInUse) {
  SpliceRead read = small_read(10);
  read.pipe_bytes_before = 53;  // up to 53 slots in use: 10 more may fill 63, one is free
  EXPECT_TRUE(proves_drained(read));
  read.pipe_bytes_before = 54;  // 54 + 10 = 64: the pipe may be full
  EXPECT_FALSE(proves_drained(read));
}

TEST(SpliceDrain, AFullReadProvesNothing) {
  SpliceRead read = small_read(20);
  read.asked = 20;  // it got all it asked for: more may wait
  EXPECT_FALSE(proves_drained(read));
}

TEST(SpliceDrain, AnEmptyReadProvesNothing) {
  EXPECT_FALSE(proves_drained(small_read(0))) << "EOF or EAGAIN is decided by the caller";
}

TEST(SpliceDrain, UrgentDataOrAHangupMeansReadingOn) {
  SpliceRead urgent = small_read(5);
  urgent.urgent = true;  // the read may have stopped at the urgent mark
  EXPECT_FALSE(proves_drained(urgent));
  SpliceRead hangup = small_read(5);
  hangup.hangup = true;  // a FIN stops tcp_read_sock and waits to be read as EOF
  EXPECT_FALSE(proves_drained(hangup));
}

TEST(SpliceDrain, AOneSlotPipeNeverDecides) {
  SpliceRead read = small_read(1);
  read.pipe_slots = 1;  // a one-page pipe: any byte may fill it
  EXPECT_FALSE(proves_drained(read));
}

// The same read with the peer's FIN known to be queued (EPOLLRDHUP, no EPOLLERR).
SpliceRead read_before_fin(size_t got) {
  SpliceRead read = small_read(got);
  read.hangup = read.fin_queued = true;
  return read;
}

TEST(SpliceEnd, AShortReadWithTheFinQueuedConsumedIt) {
  EXPECT_TRUE(proves_end(read_before_fin(1)));
  EXPECT_TRUE(proves_end(read_before_fin(63)));
  EXPECT_FALSE(proves_drained(read_before_fin(1))) << "an end, not a drained socket";
}

TEST(SpliceEnd, ARestingFullPipeMayHaveStoppedItBeforeTheFin) {
  EXPECT_FALSE(proves_end(read_before_fin(64))) << "64 one-byte buffers fill 64 slots";
  SpliceRead read = read_before_fin(10);
  read.pipe_bytes_before = 54;
  EXPECT_FALSE(proves_end(read));
  read = read_before_fin(20);
  read.asked = 20;  // it got all it asked for: more may come before the FIN
  EXPECT_FALSE(proves_end(read));
  EXPECT_FALSE(proves_end(read_before_fin(0))) << "a read of 0 says EOF by itself";
}

TEST(SpliceEnd, AnUrgentMarkMayHaveStoppedIt) {
  SpliceRead read = read_before_fin(5);
  read.urgent = true;
  EXPECT_FALSE(proves_end(read));
}

TEST(SpliceEnd, AHangupWithoutTheFinProvesNoEnd) {
  SpliceRead read = small_read(5);
  read.hangup = true;  // EPOLLHUP/EPOLLERR: maybe a reset, which must be read as one
  EXPECT_FALSE(proves_end(read));
  EXPECT_FALSE(proves_end(small_read(5))) << "no FIN seen: drained, not ended";
}

}  // namespace
}  // namespace arus
