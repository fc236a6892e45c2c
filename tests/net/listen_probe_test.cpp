// Tests for the listen probe against real sockets on the loopback: what counts as another
// socket holding an address (any listener, SO_REUSEPORT or not) and what does not (an
// open connection left on the port, the other address family), and which addresses
// compete for one port.
#include "arus/net/listen_probe.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include "arus/net/socket.hpp"

namespace arus {
namespace {

SocketAddress address(const std::string& host, uint16_t port) {
  Result<SocketAddress> r = resolve(HostPort{host, port});
  EXPECT_TRUE(r.ok()) << (r ? "" : r.error().message);
  return r ? r.value() : SocketAddress();
}

// A listener on a port the kernel picks, as another process (or another arus) holds it.
UniqueFd hold(const std::string& host, bool reuse_port) {
  Result<UniqueFd> fd = listen_tcp(address(host, 0), reuse_port, 4);
  EXPECT_TRUE(fd.ok()) << (fd ? "" : fd.error().message);
  return fd ? std::move(fd).value() : UniqueFd();
}

std::string probe(const SocketAddress& where) {
  Result<void> r = probe_listen_address(where);
  return r ? "free" : r.error().message;
}

TEST(ProbeListenAddress, RefusesAnAddressAnotherSocketListensOn) {
  for (bool reuse_port : {false, true}) {
    UniqueFd holder = hold("127.0.0.1", reuse_port);
    SocketAddress held = local_address(holder.get());
    EXPECT_EQ(probe(held), held.to_string() + " already in use by another socket")
        << "holder with SO_REUSEPORT=" << reuse_port;
    // The wildcard covers 127.0.0.1 too.
    EXPECT_EQ(probe(address("0.0.0.0", held.port())),
              "0.0.0.0:" + std::to_string(held.port()) + " already in use by another socket");
  }
}

// A route removed and added again while a connection it accepted is still open: that
// connection's socket sits on the port but holds no listen address.
TEST(ProbeListenAddress, AnOpenConnectionOnThePortDoesNotHoldIt) {
  UniqueFd listener = hold("127.0.0.1", /*reuse_port=*/true);
  SocketAddress where = local_address(listener.get());
  ConnectAttempt client = connect_tcp(where);
  ASSERT_TRUE(client.fd.valid()) << client.error;
  pollfd ready{listener.get(), POLLIN, 0};
  ASSERT_EQ(poll(&ready, 1, 10'000), 1);
  UniqueFd accepted(accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid());
  listener.reset();
  EXPECT_EQ(probe(where), "free");
}

TEST(ProbeListenAddress, AnIpv6OnlyListenerLeavesIpv4Free) {
  UniqueFd v6(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!v6) GTEST_SKIP() << "no IPv6 on this machine";
  // listen_tcp makes "[::]:P" IPv6 only, so 0.0.0.0:P is another address. The kernel
  // picks P among the ephemeral ports, which another process on a busy machine may hold
  // over IPv4 at that moment: try a few ports; one of them must be free.
  std::string last;
  for (int attempt = 0; attempt < 20; ++attempt) {
    Result<UniqueFd> holder = listen_tcp(address("::", 0), /*reuse_port=*/true, 4);
    if (!holder) GTEST_SKIP() << holder.error().message;
    uint16_t port = local_address(holder->get()).port();
    ASSERT_EQ(probe(address("::", port)),
              "[::]:" + std::to_string(port) + " already in use by another socket");
    last = probe(address("0.0.0.0", port));
    if (last == "free") return;
  }
  FAIL() << "0.0.0.0:P never free beside an IPv6-only [::]:P; last: " << last;
}

TEST(ProbeListenAddress, OtherBindErrorsKeepTheirReason) {
  // 192.0.2.1 (TEST-NET-1) is on no interface of a test machine.
  std::string error = probe(address("192.0.2.1", 80));
  if (error == "free") GTEST_SKIP() << "net.ipv4.ip_nonlocal_bind is on";
  EXPECT_EQ(error.rfind("bind 192.0.2.1:80: ", 0), 0u) << error;
}

TEST(BindsOverlap, SameFamilyAndPortWithTheSameAddressOrAWildcard) {
  EXPECT_TRUE(binds_overlap(address("127.0.0.1", 80), address("127.0.0.1", 80)));
  EXPECT_TRUE(binds_overlap(address("0.0.0.0", 80), address("127.0.0.1", 80)));
  EXPECT_TRUE(binds_overlap(address("127.0.0.1", 80), address("0.0.0.0", 80)));
  EXPECT_TRUE(binds_overlap(address("::", 80), address("::1", 80)));
  EXPECT_FALSE(binds_overlap(address("127.0.0.1", 80), address("127.0.0.2", 80)));
  EXPECT_FALSE(binds_overlap(address("127.0.0.1", 80), address("127.0.0.1", 81)));
  EXPECT_FALSE(binds_overlap(address("0.0.0.0", 80), address("::", 80)));
  EXPECT_FALSE(binds_overlap(address("127.0.0.1", 80), SocketAddress()));
}

}  // namespace
}  // namespace arus
