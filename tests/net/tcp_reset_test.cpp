// Tests for passing a TCP reset on, against real TCP pairs on 127.0.0.1.
#include "arus/net/tcp_reset.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>

#include "../support/tcp_pair.hpp"

namespace arus {
namespace {

TEST(TcpReset, ThePeerReadsTheBytesThenAReset) {
  test::TcpPair pair = test::make_tcp_pair();
  ASSERT_TRUE(pair.accepted.valid());
  ASSERT_EQ(::send(pair.connected.get(), "last", 4, MSG_NOSIGNAL), 4);
  // Loopback acknowledges at once or after a delayed ACK; the relay polls the same way.
  for (int i = 0; i < 1000 && unacknowledged_bytes(pair.connected.get()) > 0; ++i) {
    poll(nullptr, 0, 1);
  }
  EXPECT_EQ(unacknowledged_bytes(pair.connected.get()), 0u);
  reset_on_close(pair.connected.get());
  pair.connected.reset();

  pollfd readable{pair.accepted.get(), POLLIN, 0};
  ASSERT_EQ(poll(&readable, 1, 10'000), 1);
  char buffer[16];
  EXPECT_EQ(::read(pair.accepted.get(), buffer, sizeof buffer), 4) << "bytes before the reset";
  EXPECT_EQ(::read(pair.accepted.get(), buffer, sizeof buffer), -1);
  EXPECT_EQ(errno, ECONNRESET) << "a reset, not a clean EOF";
}

TEST(TcpReset, UnacknowledgedBytesOfAnInvalidSocketAreNone) {
  EXPECT_EQ(unacknowledged_bytes(-1), 0u);
}

}  // namespace
}  // namespace arus
