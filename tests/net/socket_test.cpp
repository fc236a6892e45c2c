// Tests for the TCP socket helpers against real sockets on 127.0.0.1.
#include "arus/net/socket.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

// A health check's socket: connected, non-blocking, and not one setsockopt call spent.
TEST(ConnectTcpProbe, ConnectsWithNoOption) {
  Result<SocketAddress> any = resolve(HostPort{"127.0.0.1", 0});
  ASSERT_TRUE(any.ok());
  Result<UniqueFd> listener = listen_tcp(any.value(), /*reuse_port=*/false, 4);
  ASSERT_TRUE(listener.ok());
  ConnectAttempt attempt = connect_tcp_probe(local_address(listener.value().get()));
  ASSERT_TRUE(attempt.fd.valid()) << attempt.error;
  pollfd connected{attempt.fd.get(), POLLOUT, 0};
  ASSERT_EQ(poll(&connected, 1, 10'000), 1);
  EXPECT_EQ(socket_error(attempt.fd.get()), 0);
  EXPECT_EQ(fcntl(attempt.fd.get(), F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  EXPECT_EQ(option(attempt.fd.get(), IPPROTO_TCP, TCP_NODELAY), 0);
  EXPECT_EQ(option(attempt.fd.get(), SOL_SOCKET, SO_OOBINLINE), 0);
}

}  // namespace
}  // namespace arus
