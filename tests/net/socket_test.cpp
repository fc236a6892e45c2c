// Tests for the TCP socket helpers against real sockets on 127.0.0.1.
#include "arus/net/socket.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "../support/tcp_pair.hpp"

namespace arus {
namespace {

int option(int fd, int level, int name) {
  int value = -1;
  socklen_t length = sizeof value;
  EXPECT_EQ(getsockopt(fd, level, name, &value, &length), 0);
  return value;
}

// The relay relies on the kernel copying these into every accepted socket instead of
// making two setsockopt calls per connection.
TEST(ListenTcp, AcceptedSocketsInheritNoDelayAndOobInline) {
  test::TcpPair pair = test::make_tcp_pair();
  ASSERT_TRUE(pair.accepted.valid());
  EXPECT_EQ(option(pair.accepted.get(), IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_EQ(option(pair.accepted.get(), SOL_SOCKET, SO_OOBINLINE), 1);
}

TEST(ConnectTcp, SetsNoDelayAndOobInline) {
  test::TcpPair pair = test::make_tcp_pair();
  ASSERT_TRUE(pair.connected.valid());
  EXPECT_EQ(option(pair.connected.get(), IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_EQ(option(pair.connected.get(), SOL_SOCKET, SO_OOBINLINE), 1);
}

}  // namespace
}  // namespace arus
