// Connected TCP socket pairs on 127.0.0.1 made with the proxy's own helpers, so they carry
// the options the relay's sockets carry. For tests that need real TCP (urgent data,
// socket options) rather than AF_UNIX socketpairs.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "arus/net/socket.hpp"

namespace arus::test {

struct TcpPair {
  UniqueFd accepted;   // the listener's side, as the proxy holds a client
  UniqueFd connected;  // the connect_tcp side, as the proxy holds a backend
};

inline TcpPair make_tcp_pair() {
  TcpPair pair;
  Result<SocketAddress> any = resolve(HostPort{"127.0.0.1", 0});
  EXPECT_TRUE(any.ok());
  if (!any) return pair;
  Result<UniqueFd> listener = listen_tcp(any.value(), /*reuse_port=*/false, 4);
  EXPECT_TRUE(listener.ok()) << (listener ? "" : listener.error().message);
  if (!listener) return pair;
  ConnectAttempt attempt = connect_tcp(local_address(listener.value().get()));
  EXPECT_TRUE(attempt.fd.valid()) << attempt.error;
  pollfd ready{listener.value().get(), POLLIN, 0};
  EXPECT_EQ(poll(&ready, 1, 10'000), 1);
  pair.accepted.reset(accept4(listener.value().get(), nullptr, nullptr,
                              SOCK_NONBLOCK | SOCK_CLOEXEC));
  pair.connected = std::move(attempt.fd);
  pollfd connected{pair.connected.get(), POLLOUT, 0};
  EXPECT_EQ(poll(&connected, 1, 10'000), 1);
  return pair;
}

}  // namespace arus::test
