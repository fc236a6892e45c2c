// proves_drained: when a short splice into a pipe proves the TCP socket drained.
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

}  // namespace
}  // namespace arus
