// Connected TCP socket pairs on 127.0.0.1 made with the proxy's own helpers, so they carry
// the options the relay's sockets carry. For tests that need real TCP (urgent data,
// socket options) rather than AF_UNIX socketpairs.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "arus/net/socket.hpp"
#include "arus/relay/flow.hpp"

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

// One relayed direction over real TCP, as a worker holds it: `source` the proxy's client
// socket, `sink` its backend socket, `client` and `backend` the peers' ends, and `epoll`
// with the source registered edge-triggered for input (data.u32 0) and the sink for
// output (data.u32 1). The client sends without Nagle's delay.
inline void connect_direction(Endpoint& source, Endpoint& sink, UniqueFd& client,
                              UniqueFd& backend, UniqueFd& epoll) {
  TcpPair client_side = make_tcp_pair();
  TcpPair backend_side = make_tcp_pair();
  source.fd = std::move(client_side.accepted);
  client = std::move(client_side.connected);
  sink.fd = std::move(backend_side.connected);
  backend = std::move(backend_side.accepted);
  int one = 1;
  ASSERT_EQ(setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  epoll.reset(epoll_create1(EPOLL_CLOEXEC));
  ASSERT_TRUE(epoll.valid());
  epoll_event source_event{EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLET, {.u32 = 0}};
  epoll_event sink_event{EPOLLOUT | EPOLLET, {.u32 = 1}};
  ASSERT_EQ(epoll_ctl(epoll.get(), EPOLL_CTL_ADD, source.fd.get(), &source_event), 0);
  ASSERT_EQ(epoll_ctl(epoll.get(), EPOLL_CTL_ADD, sink.fd.get(), &sink_event), 0);
}

}  // namespace arus::test
