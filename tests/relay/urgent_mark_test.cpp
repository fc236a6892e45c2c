// TCP urgent data through the splice path (real TCP sockets: AF_UNIX has no urgent mark).
// splice(2) cannot read past an urgent mark; without cross_urgent_mark these relays stall
// at the mark, or end at it when a FIN follows, and lose the bytes after it.
#include "arus/relay/urgent_mark.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "../support/splice_fixture.hpp"
#include "../support/tcp_pair.hpp"
#include "arus/relay/splice_pump.hpp"

namespace arus {
namespace {

using Clock = std::chrono::steady_clock;

// Waits for `events` on `fd`; fails the test after 10 s.
void await(int fd, short events) {
  pollfd p{fd, events, 0};
  ASSERT_EQ(poll(&p, 1, 10'000), 1) << "no poll event " << events;
}

// Reads from a blocking-enough peer until `count` bytes or EOF; fails after 10 s.
std::string read_exactly(int fd, size_t count) {
  std::string out;
  char buffer[256];
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (out.size() < count && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) != 1) continue;
    ssize_t n = recv(fd, buffer, std::min(sizeof buffer, count - out.size()), MSG_DONTWAIT);
    if (n == 0) break;
    if (n > 0) out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

// What waits on `fd` now, without blocking.
std::string read_available_for(int fd) {
  std::string out;
  char buffer[8192];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT)) > 0)
    out.append(buffer, static_cast<size_t>(n));
  return out;
}

class UrgentMarkTest : public test::SpliceFixture {
 protected:
  UrgentMarkTest() {
    test::TcpPair client_side = test::make_tcp_pair();
    test::TcpPair backend_side = test::make_tcp_pair();
    client_peer_ = std::move(client_side.connected);
    source_.fd = std::move(client_side.accepted);      // SO_OOBINLINE, as the proxy's
    sink_.fd = std::move(backend_side.connected);      // SO_OOBINLINE, as the proxy's
    backend_peer_ = std::move(backend_side.accepted);  // inline too: the mark is SIOCATMARK
    sink_.writable = true;
  }

  void client_sends(const char* data, int flags = 0) {
    size_t length = std::string(data).size();
    ASSERT_EQ(send(client_peer_.get(), data, length, flags), static_cast<ssize_t>(length));
  }

  // What the reactor does on an event: mark the source ready (and urgent, as EPOLLPRI
  // would), then pump, until `bytes` went through (and, with `to_eof`, the FIN too).
  void relay(uint64_t bytes, bool to_eof = false) {
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while ((flow_.bytes < bytes || (to_eof && !flow_.done())) && Clock::now() < deadline) {
      pollfd p{source_.fd.get(), POLLIN | POLLPRI, 0};
      if (poll(&p, 1, 100) != 1) continue;
      source_.readable = true;
      if (p.revents & POLLPRI) source_.urgent = true;
      PumpResult result = splice_pump(source_, sink_, flow_, pipes_, 1 << 20);
      ASSERT_TRUE(result.status == PumpStatus::kBlocked || result.status == PumpStatus::kYield)
          << "status " << static_cast<int>(result.status) << " error " << result.error;
    }
    EXPECT_GE(flow_.bytes, bytes) << "the relay stalled";
    if (to_eof) {
      EXPECT_TRUE(flow_.done()) << "the FIN was not passed on";
    }
  }
};

TEST_F(UrgentMarkTest, UrgentByteArrivesInOrderAndStillUrgent) {
  client_sends("abc");
  client_sends("!", MSG_OOB);
  client_sends("def");
  relay(7);

  EXPECT_EQ(read_exactly(backend_peer_.get(), 3), "abc");
  EXPECT_TRUE(at_urgent_mark(backend_peer_.get())) << "the urgent mark was not passed on";
  EXPECT_EQ(read_exactly(backend_peer_.get(), 4), "!def");
  EXPECT_FALSE(source_.urgent);
}

TEST_F(UrgentMarkTest, BytesAfterTheMarkAreNotLostWhenAFinFollows) {
  client_sends("abc");
  client_sends("!", MSG_OOB);
  client_sends("def");
  ASSERT_EQ(shutdown(client_peer_.get(), SHUT_WR), 0);
  relay(7, /*to_eof=*/true);

  EXPECT_EQ(flow_.bytes, 7u);
  EXPECT_EQ(read_exactly(backend_peer_.get(), 100), "abc!def") << "short read: bytes lost";
}

TEST_F(UrgentMarkTest, AFullSinkGetsTheByteInLineThroughThePipe) {
  client_sends("!", MSG_OOB);
  await(source_.fd.get(), POLLPRI);
  ASSERT_TRUE(at_urgent_mark(source_.fd.get()));
  sink_.writable = false;  // as if the backend's buffer were full
  PumpResult result;
  EXPECT_EQ(cross_urgent_mark(source_, sink_, flow_, pipes_, result), UrgentStep::kCrossed);
  EXPECT_EQ(flow_.bytes, 1u);
  ASSERT_EQ(flow_.pipe_bytes, 1u);
  char byte = 0;
  ASSERT_EQ(read(flow_.pipe.read_end.get(), &byte, 1), 1);
  EXPECT_EQ(byte, '!');
  flow_.pipe_bytes = 0;
}

// The FIN can be in before the proxy sees EPOLLPRI: splice then says 0 at the mark, which
// must not be taken for the end of the stream.
TEST_F(UrgentMarkTest, EofAtAMarkIsNotTakenForTheEndBeforeEpollPri) {
  client_sends("abc");
  client_sends("!", MSG_OOB);
  client_sends("def");
  ASSERT_EQ(shutdown(client_peer_.get(), SHUT_WR), 0);
  await(source_.fd.get(), POLLRDHUP);
  // As the reactor marks EPOLLRDHUP, urgent still false: the short read of "abc" must
  // not be taken for the end (proves_end), nor the 0 at the mark after it.
  mark_ready(source_, EPOLLIN | EPOLLRDHUP);
  PumpResult result = splice_pump(source_, sink_, flow_, pipes_, 1 << 20);
  EXPECT_EQ(result.status, PumpStatus::kBlocked);
  EXPECT_EQ(flow_.bytes, 7u);
  EXPECT_TRUE(flow_.done());
  EXPECT_EQ(read_exactly(backend_peer_.get(), 100), "abc!def");
}

// A read that meets a pipe full by its slot count (not its bytes) says EAGAIN with the
// mark still ahead: not at the mark, yet the urgent flag is not stale. Were it cleared,
// a later short read, stopped by the mark, would pass for "drained" and the connection
// would stall with the mark unread (edge-triggered epoll reports EPOLLPRI once).
TEST_F(UrgentMarkTest, AMarkBehindAPipeFullOfSlotsKeepsTheUrgentFlag) {
  // Two slots, both taken: a page of bytes, then four more, spliced in one at a time.
  flow_.pipe = pipes_.acquire();
  ASSERT_TRUE(flow_.pipe.valid());
  flow_.pipe.capacity = fcntl(flow_.pipe.write_end.get(), F_SETPIPE_SZ, 2 * 4096);
  ASSERT_EQ(flow_.pipe.capacity, 2 * 4096);
  flow_.pipe.slots = 2;
  int feed[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, feed), 0);
  UniqueFd feed_in(feed[0]), feed_out(feed[1]);
  for (const std::string& piece : {std::string(4096, 'x'), std::string("yyyy")}) {
    ASSERT_EQ(write(feed_in.get(), piece.data(), piece.size()), static_cast<ssize_t>(piece.size()));
    ASSERT_EQ(splice(feed_out.get(), nullptr, flow_.pipe.write_end.get(), nullptr, piece.size(),
                     SPLICE_F_NONBLOCK),
              static_cast<ssize_t>(piece.size()));
    flow_.pipe_bytes += piece.size();
  }
  // The sink takes part of the first slot only (a TCP socket at its smallest send buffer
  // whose peer offers its smallest window): both slots stay taken, the pump reads on.
  int smallest = 1;
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(setsockopt(listener.get(), SOL_SOCKET, SO_RCVBUF, &smallest, sizeof smallest), 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);
  UniqueFd sink(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(setsockopt(sink.get(), SOL_SOCKET, SO_SNDBUF, &smallest, sizeof smallest), 0);
  ASSERT_EQ(connect(sink.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(fcntl(sink.get(), F_SETFL, O_NONBLOCK), 0);
  backend_peer_ = UniqueFd(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(backend_peer_.valid());
  sink_.fd = std::move(sink);

  client_sends("w");
  client_sends("!", MSG_OOB);
  client_sends("def");
  await(source_.fd.get(), POLLPRI);
  mark_ready(source_, EPOLLIN | EPOLLPRI);
  mark_ready(sink_, EPOLLOUT);
  splice_pump(source_, sink_, flow_, pipes_, 1 << 20);
  ASSERT_GT(flow_.pipe_bytes, 4u) << "the sink took a whole slot: the read found room";
  EXPECT_TRUE(source_.urgent) << "cleared while the mark is still ahead";
  std::string relayed = read_available_for(backend_peer_.get());
  EXPECT_EQ(relayed, std::string(relayed.size(), 'x'));
}

TEST_F(UrgentMarkTest, AStaleUrgentFlagIsCleared) {
  client_sends("abc");
  await(source_.fd.get(), POLLIN);
  source_.readable = source_.urgent = true;
  splice_pump(source_, sink_, flow_, pipes_, 1 << 20);
  EXPECT_EQ(flow_.bytes, 3u);
  EXPECT_FALSE(source_.urgent);
  EXPECT_FALSE(source_.readable);
}

}  // namespace
}  // namespace arus
