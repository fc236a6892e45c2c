// Connection's state machine driven by a real Reactor over real sockets on 127.0.0.1:
// the orders of events the end-to-end tests cannot force (a refused first backend, a
// reset right after a reply, more bytes ready than one wake-up may move).
#include "arus/relay/connection.hpp"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "../plugin/filter_test_util.hpp"
#include "arus/net/tcp_reset.hpp"
#include "arus/plugin/filter_instance.hpp"
#include "arus/plugin/plugin_loader.hpp"
#include "connection_host.hpp"

namespace arus {
namespace {

using test::FakeHost;
using test::Peer;
using test::start;
using test::pattern;
using test::TestBackend;
using test::TestRoute;
using testing::StderrCapture;

constexpr size_t kBudgetBytes = 1 << 20;  // kPumpBudgetBytes in connection.cpp

// Runs turns until the backend has accepted the proxy's connection and it is relaying.
bool accept_backend(FakeHost& host, const TestBackend& listening, Peer& backend,
                    const Connection& connection) {
  return host.run_until([&] {
    if (!backend.fd) backend.fd = listening.accept();
    return backend.fd.valid() && connection.state() == Connection::State::kRelaying;
  });
}

// Runs turns, both peers writing and reading what they can before each, until `done()`.
template <typename Done>
bool relay_until(FakeHost& host, Peer& client, Peer& backend, Done done) {
  return host.run_until([&] {
    client.pump();
    backend.pump();
    return done();
  });
}

TEST(ConnectionConnect, ARefusedBackendIsSkippedAndNothingTheClientSentIsLost) {
  TestBackend refusing = TestBackend::refusing();
  TestBackend live = TestBackend::listening();
  TestRoute route({refusing.address, live.address});
  FakeHost host;
  StderrCapture log;
  Connection connection(host);

  // Sent before the connection starts, and while it connects: both wait in the kernel.
  const std::string early = pattern(64 * 1024, 1);
  const std::string during = pattern(64 * 1024, 2);
  test::TcpPair pair = test::make_tcp_pair();
  Peer client(std::move(pair.connected));
  client.send(early);
  SocketAddress client_address = peer_address(pair.accepted.get());
  connection.start(std::move(pair.accepted), client_address, route.worker_route());
  client.send(during);

  Peer backend;
  ASSERT_TRUE(host.run_until([&] {
    client.pump();
    if (!backend.fd) backend.fd = live.accept();
    if (backend.fd) backend.pump();
    return backend.received.size() >= early.size() + during.size() || backend.ended();
  })) << "received " << backend.received.size();
  EXPECT_TRUE(backend.received == early + during) << "bytes lost or reordered";
  EXPECT_EQ(route.backend_stats(0).connect_errors_total.load(), 1u) << "the first try failed";
  EXPECT_EQ(route.backend_stats(0).connections_total.load(), 0u);
  EXPECT_EQ(route.backend_stats(1).connections_total.load(), 1u);
  EXPECT_EQ(connection.state(), Connection::State::kRelaying);
}

TEST(ConnectionConnect, EveryBackendRefusingEndsWithConnectFailed) {
  TestBackend refusing = TestBackend::refusing();
  TestRoute route({refusing.address}, nullptr, /*retries=*/1);
  FakeHost host;
  StderrCapture log;
  Connection connection(host);
  Peer client = start(connection, route);
  ASSERT_TRUE(host.run_until([&] {
    client.pump();
    return host.closed() == 1;
  }));
  ASSERT_TRUE(host.run_until([&] {
    client.pump();
    return client.ended();
  }));
  EXPECT_EQ(route.backend_stats(0).connect_errors_total.load(), 2u) << "one try, one retry";
  EXPECT_EQ(route.stats().connections_active.load(), 0);
  EXPECT_NE(log.text().find("close=connect_failed"), std::string::npos);
}

// A connection of a one-backend route, relaying: the client's and the backend's
// sockets connected through it, the log captured.
class RelayingConnection : public ::testing::Test {
 protected:
  // `make_pipe`: how the host makes pipes (null: pipe2); `filter`: the route's (null:
  // the splice path).
  explicit RelayingConnection(PipePool::MakePipe make_pipe = nullptr,
                              FilterInstancePtr filter = nullptr)
      : route({live.address}, std::move(filter)), host(make_pipe) {}

  void SetUp() override {
    client = start(connection, route);
    ASSERT_TRUE(accept_backend(host, live, backend, connection));
  }

  // `first` sends `size` bytes (more than a pipe holds) and its FIN, which must reach
  // the other side after the last byte, while the other way stays open; then the other
  // side does the same and the connection ends with `reason`.
  void half_close(Peer& first, Peer& second, size_t size, const std::string& reason) {
    const std::string first_bytes = pattern(size, 3);
    first.send(first_bytes);
    first.send_fin();
    ASSERT_TRUE(relay_until(host, client, backend, [&] { return second.ended(); }));
    EXPECT_TRUE(second.eof) << "read error " << second.read_error;
    EXPECT_TRUE(second.received == first_bytes) << second.received.size() << " of " << size;
    EXPECT_EQ(connection.state(), Connection::State::kRelaying) << "the other way is open";

    const std::string second_bytes = pattern(size, 4);
    second.send(second_bytes);
    second.send_fin();
    ASSERT_TRUE(relay_until(host, client, backend,
                            [&] { return first.ended() && host.closed() == 1; }));
    EXPECT_TRUE(first.eof) << "read error " << first.read_error;
    EXPECT_TRUE(first.received == second_bytes) << first.received.size() << " of " << size;
    EXPECT_EQ(connection.state(), Connection::State::kClosed);
    EXPECT_EQ(route.stats().bytes_client_to_backend.load(), backend.received.size());
    EXPECT_EQ(route.stats().bytes_backend_to_client.load(), client.received.size());
    EXPECT_EQ(route.stats().connections_active.load(), 0);
    EXPECT_NE(log.text().find("close=" + reason), std::string::npos);
  }

  TestBackend live = TestBackend::listening();
  TestRoute route;
  FakeHost host;
  StderrCapture log;
  Connection connection{host};
  Peer client;
  Peer backend;
};

TEST_F(RelayingConnection, HalfCloseClientFinFirstPassesBytesThenFinBothWays) {
  half_close(client, backend, 600 * 1024, "client_eof");
}

TEST_F(RelayingConnection, HalfCloseBackendFinFirstPassesBytesThenFinBothWays) {
  half_close(backend, client, 600 * 1024, "backend_eof");
}

// docs/architecture.md, "Resets": the backend's reply reaches the client, then its
// reset does, although the proxy found the reset writing the client's upload to it.
TEST_F(RelayingConnection, ABackendResetAfterItsReplyReachesTheClientAfterTheReply) {
  // The client uploads; once the backend has some of it, the backend replies and resets.
  ASSERT_TRUE(relay_until(host, client, backend, [&] {
    if (client.outbox.size() < 64 * 1024) client.send(pattern(64 * 1024, 7));
    return backend.received.size() > 0;
  }));
  const std::string reply = "reply before the reset";
  ASSERT_EQ(::send(backend.fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(reply.size()));
  reset_on_close(backend.fd.get());
  backend.fd.reset();
  // The client keeps sending during the next turn, so the proxy meets the reset writing.
  client.send(pattern(256 * 1024, 8));
  host.reactor().run_once(0);
  client.outbox.clear();

  ASSERT_TRUE(host.run_until([&] {
    client.read();
    return client.ended() && host.closed() == 1;
  }));
  EXPECT_EQ(client.received, reply);
  EXPECT_EQ(client.read_error, ECONNRESET) << "a reset, not a clean end";
  EXPECT_FALSE(client.eof);
  const std::string text = log.text();
  EXPECT_NE(text.find("close=backend_reset error=ECONNRESET"), std::string::npos) << text;
  EXPECT_EQ(route.stats().connections_active.load(), 0);
  EXPECT_EQ(route.backend_stats(0).connections_active.load(), 0);
}

// The client's last bytes reach the backend, then its reset does: the backend can tell
// the aborted upload from a complete one.
TEST_F(RelayingConnection, AClientResetAfterSendingReachesTheBackendAfterTheBytes) {
  // Acknowledged by the proxy's kernel but not yet read by the proxy when the reset
  // comes: no turn runs in between.
  const std::string upload = pattern(32 * 1024, 9);
  client.send(upload);
  ASSERT_TRUE(client.outbox.empty());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (unacknowledged_bytes(client.fd.get()) != 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "never acknowledged";
  }
  reset_on_close(client.fd.get());
  client.fd.reset();

  ASSERT_TRUE(host.run_until([&] {
    backend.read();
    return backend.ended() && host.closed() == 1;
  }));
  EXPECT_TRUE(backend.received == upload) << backend.received.size() << " of " << upload.size();
  EXPECT_EQ(backend.read_error, ECONNRESET) << "a reset, not a clean end";
  EXPECT_FALSE(backend.eof);
  const std::string text = log.text();
  EXPECT_NE(text.find("close=client_reset error=ECONNRESET"), std::string::npos) << text;
}

// pipe2 failing as it does when the process is out of descriptors.
int no_pipe(int*, int) {
  errno = EMFILE;
  return -1;
}

class RelayingWithoutPipes : public RelayingConnection {
 protected:
  RelayingWithoutPipes() : RelayingConnection(no_pipe) {}
};

// No pipe for the first bytes (docs/architecture.md, "The two data paths"): the
// connection closes with close=error and the errno, giving back its slots and counts.
TEST_F(RelayingWithoutPipes, NoPipeClosesWithErrorAndTheErrno) {
  client.send("first bytes");
  ASSERT_TRUE(relay_until(host, client, backend, [&] {
    return host.closed() == 1 && client.ended() && backend.ended();
  }));
  EXPECT_EQ(backend.received, "") << "nothing could move";
  EXPECT_EQ(connection.state(), Connection::State::kClosed);
  EXPECT_EQ(route.stats().connections_active.load(), 0);
  EXPECT_EQ(route.backend_stats(0).connections_active.load(), 0);
  const std::string text = log.text();
  EXPECT_NE(text.find("warn no_pipe route=r"), std::string::npos) << text;
  EXPECT_NE(text.find("close=error error=EMFILE"), std::string::npos) << text;
}

// The shipped c_plugins/filter.so (built by `make`) configured with `args`.
FilterInstancePtr shipped_filter(const std::string& args) {
  auto plugin = load_filter((testing::source_root() / "c_plugins").string(), "filter.so");
  EXPECT_TRUE(plugin.ok()) << (plugin ? "" : plugin.error().message);
  if (!plugin) return nullptr;
  auto instance = FilterInstance::create(std::move(*plugin), args);
  EXPECT_TRUE(instance.ok()) << (instance ? "" : instance.error().message);
  return instance ? std::move(*instance) : nullptr;
}

// A filter that upper-cases the first 16 bytes of each direction, then hands it back.
class RelayingThroughSniffer : public RelayingConnection {
 protected:
  RelayingThroughSniffer() : RelayingConnection(nullptr, shipped_filter("upper sniff=16")) {}

  static std::string sniffed(std::string bytes) {
    for (size_t i = 0; i < 16 && i < bytes.size(); ++i) {
      if (bytes[i] >= 'a' && bytes[i] <= 'z') bytes[i] = static_cast<char>(bytes[i] - 'a' + 'A');
    }
    return bytes;
  }
};

// The filter hands back after 16 bytes of a read that brought many more: what the
// filter left in its input buffer goes out first, unchanged, then the rest by splice.
TEST_F(RelayingThroughSniffer, HandBackSendsWhatIsBufferedBeforeWhatIsSpliced) {
  const std::string upload = pattern(300 * 1024, 11);
  client.send(upload);
  client.send_fin();
  ASSERT_TRUE(relay_until(host, client, backend, [&] { return backend.ended(); }));
  EXPECT_TRUE(backend.eof) << "read error " << backend.read_error;
  EXPECT_TRUE(backend.received == sniffed(upload)) << backend.received.size() << " bytes";

  const std::string reply = pattern(300 * 1024, 12);
  backend.send(reply);
  backend.send_fin();
  ASSERT_TRUE(relay_until(host, client, backend,
                          [&] { return client.ended() && host.closed() == 1; }));
  EXPECT_TRUE(client.eof) << "read error " << client.read_error;
  EXPECT_TRUE(client.received == sniffed(reply)) << client.received.size() << " bytes";
  EXPECT_NE(log.text().find("close=client_eof"), std::string::npos);
}

// More than one wake-up's budget ready at once: each wake-up moves at most about the
// budget and the connection resumes itself (Reactor::resume_later) for the rest, with
// no new write from the client.
TEST(ConnectionYield, MoreThanTheBudgetMovesOverSeveralTurns) {
  constexpr int kBufferBytes = 4 << 20;
  TestBackend live = TestBackend::listening(kBufferBytes);
  TestRoute route({live.address});
  FakeHost host;
  StderrCapture log;
  Connection connection(host);
  test::TcpPair pair = test::make_tcp_pair();
  setsockopt(pair.accepted.get(), SOL_SOCKET, SO_RCVBUF, &kBufferBytes, sizeof kBufferBytes);
  setsockopt(pair.connected.get(), SOL_SOCKET, SO_SNDBUF, &kBufferBytes, sizeof kBufferBytes);
  const int proxy_client_fd = pair.accepted.get();
  SocketAddress client_address = peer_address(pair.accepted.get());
  connection.start(std::move(pair.accepted), client_address, route.worker_route());
  Peer client(std::move(pair.connected));
  Peer backend;
  ASSERT_TRUE(accept_backend(host, live, backend, connection));

  // The client writes before the next turn, as much as the buffers hold, then stops.
  const std::string upload = pattern(3 << 20, 10);
  client.send(upload);
  // Loopback delivers within send(): what the proxy's socket holds is there already.
  int ready = 0;
  ASSERT_EQ(ioctl(proxy_client_fd, FIONREAD, &ready), 0);
  if (static_cast<size_t>(ready) <= 2 * kBudgetBytes) {
    GTEST_SKIP() << "the kernel let only " << ready << " bytes wait for the proxy "
                 << "(net.core.rmem_max too low to test the budget)";
  }

  host.reactor().run_once(0);
  const uint64_t first_turn = route.stats().bytes_client_to_backend.load();
  // A turn is up to two wake-ups of the connection: its event, and then its resume,
  // which Reactor::run_once runs after the events of the same turn. Each moves at most
  // the budget and the pipe in flight.
  EXPECT_GT(first_turn, 0u);
  EXPECT_LE(first_turn, 2 * (kBudgetBytes + 256 * 1024)) << "a wake-up moved more than its budget";
  EXPECT_LT(first_turn, static_cast<uint64_t>(ready)) << "everything moved in one turn";

  ASSERT_TRUE(host.run_until([&] {
    backend.read();  // no client.pump(): what waited moves without a new client write
    return backend.received.size() >= static_cast<size_t>(ready) || backend.ended();
  }));
  EXPECT_TRUE(backend.received == upload.substr(0, backend.received.size()));
  EXPECT_GE(backend.received.size(), static_cast<size_t>(ready));
}

}  // namespace
}  // namespace arus
