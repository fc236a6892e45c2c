// Connection with accept_proxy and send_proxy, driven by a real Reactor over real
// sockets: no backend before the client's header is whole, the header's source becomes
// the client, the backend's own header comes before any client byte, and a bad or
// missing header ends only that connection, counted.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

#include "../plugin/filter_test_util.hpp"
#include "arus/net/proxy_header.hpp"
#include "arus/relay/connection.hpp"
#include "connection_host.hpp"

namespace arus {
namespace {

using test::FakeHost;
using test::Peer;
using test::start;
using test::TestBackend;
using test::TestRoute;
using testing::StderrCapture;

ProxyProtocolConfig accepting(SendProxy send = SendProxy::kOff, uint64_t timeout_ms = 3000) {
  return ProxyProtocolConfig{true, timeout_ms, send};
}

// A route on one listening backend with the given PROXY protocol keys, one connection
// on it, and the log captured.
struct ProxyRig {
  explicit ProxyRig(ProxyProtocolConfig proxy_protocol)
      : route({live.address}, nullptr, 2, 0, {}, proxy_protocol) {}

  TestBackend live = TestBackend::listening();
  TestRoute route;
  FakeHost host;
  StderrCapture log;
  Connection connection{host};
};

std::string as_text(const ProxyHeaderBytes& header) {
  return std::string(reinterpret_cast<const char*>(header.data), header.size);
}

TEST(ConnectionProxyHeader, NoBackendBeforeTheHeaderIsWholeThenItsSourceIsTheClient) {
  ProxyRig rig(accepting(SendProxy::kV2));
  Peer client = start(rig.connection, rig.route);

  const std::string header = "PROXY TCP4 192.0.2.1 198.51.100.7 12345 443\r\n";
  client.send(header.substr(0, 20));
  for (int i = 0; i < 20; ++i) rig.host.reactor().run_once(1);
  EXPECT_EQ(rig.connection.state(), Connection::State::kReadingHeader);
  EXPECT_FALSE(rig.live.accept().valid()) << "a backend was connected before the header";

  client.send(header.substr(20) + "stream bytes");
  Peer backend;
  ASSERT_TRUE(rig.host.run_until([&] {
    client.pump();
    if (!backend.fd) backend.fd = rig.live.accept();
    if (backend.fd) backend.pump();
    return backend.received.size() >= 28 + 12;
  })) << backend.received.size();
  SocketAddress source = rig.connection.client_address();
  EXPECT_EQ(source.to_string(), "192.0.2.1:12345");
  // The backend's header names the client and the destination the client's header gave.
  ProxyParseResult sent = parse_proxy_header(
      {reinterpret_cast<const uint8_t*>(backend.received.data()), backend.received.size()});
  ASSERT_EQ(sent.status, ProxyParseStatus::kComplete);
  EXPECT_EQ(sent.version, ProxyVersion::kV2);
  EXPECT_EQ(sent.source.to_string(), "192.0.2.1:12345");
  EXPECT_EQ(sent.destination.to_string(), "198.51.100.7:443");
  EXPECT_EQ(backend.received.substr(sent.length), "stream bytes");
  EXPECT_EQ(rig.route.stats().proxy_header_errors.load(), 0u);
}

TEST(ConnectionProxyHeader, LocalKeepsTheSocketsPeer) {
  ProxyRig rig(accepting());
  test::TcpPair pair = test::make_tcp_pair();
  SocketAddress peer = peer_address(pair.accepted.get());
  rig.connection.start(std::move(pair.accepted), peer, rig.route.worker_route());
  Peer client(std::move(pair.connected));
  client.send(as_text(build_proxy_local_header(ProxyVersion::kV2)) + "x");
  Peer backend;
  ASSERT_TRUE(rig.host.run_until([&] {
    client.pump();
    if (!backend.fd) backend.fd = rig.live.accept();
    if (backend.fd) backend.pump();
    return backend.received == "x";
  }));
  EXPECT_EQ(rig.connection.client_address(), peer);
}

TEST(ConnectionProxyHeader, GarbageEndsTheConnectionWithoutABackend) {
  ProxyRig rig(accepting());
  Peer client = start(rig.connection, rig.route);
  client.send("GET / HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(rig.host.run_until([&] { return rig.host.closed() == 1; }));
  EXPECT_FALSE(rig.live.accept().valid());
  EXPECT_EQ(rig.route.stats().proxy_header_errors.load(), 1u);
  EXPECT_EQ(rig.route.stats().connections_active.load(), 0);
  EXPECT_NE(rig.log.text().find("close=proxy_header"), std::string::npos);
  EXPECT_NE(rig.log.text().find("reason=\"not a PROXY header\""), std::string::npos);
}

TEST(ConnectionProxyHeader, ASilentClientIsClosedAtTheTimeout) {
  ProxyRig rig(accepting(SendProxy::kOff, 20));
  Peer client = start(rig.connection, rig.route);
  ASSERT_TRUE(rig.host.run_until([&] { return rig.host.closed() == 1; }));
  EXPECT_FALSE(rig.live.accept().valid());
  EXPECT_EQ(rig.route.stats().proxy_header_errors.load(), 1u);
  EXPECT_NE(rig.log.text().find("reason=\"timed out\""), std::string::npos);
}

TEST(ConnectionProxyHeader, SendProxyWithoutAcceptNamesTheSocketsAddresses) {
  ProxyRig rig(ProxyProtocolConfig{false, 3000, SendProxy::kV1});
  test::TcpPair pair = test::make_tcp_pair();
  SocketAddress peer = peer_address(pair.accepted.get());
  SocketAddress local = local_address(pair.accepted.get());
  rig.connection.start(std::move(pair.accepted), peer, rig.route.worker_route());
  Peer client(std::move(pair.connected));
  client.send("after");
  const std::string expected = as_text(build_proxy_header(ProxyVersion::kV1, peer, local));
  Peer backend;
  ASSERT_TRUE(rig.host.run_until([&] {
    client.pump();
    if (!backend.fd) backend.fd = rig.live.accept();
    if (backend.fd) backend.pump();
    return backend.received.size() >= expected.size() + 5;
  }));
  EXPECT_EQ(backend.received, expected + "after");
}

}  // namespace
}  // namespace arus
