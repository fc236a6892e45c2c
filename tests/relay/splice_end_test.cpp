// The end of a stream on the splice path over real TCP: a short read with the peer's FIN
// queued (EPOLLRDHUP) ends the direction without the read that would return 0
// (proves_end, splice_drain.hpp), and nothing else may pass for that end: bytes behind a
// full pipe, a FIN that comes later, a reset.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "../support/splice_fixture.hpp"
#include "../support/tcp_pair.hpp"
#include "arus/relay/splice_pump.hpp"

namespace arus {
namespace {

using Clock = std::chrono::steady_clock;

// What epoll would report for `fd` now (level: poll(2) gives the same mask as tcp_poll).
uint32_t poll_events(int fd, short wanted) {
  pollfd p{fd, static_cast<short>(wanted | POLLRDHUP), 0};
  EXPECT_EQ(poll(&p, 1, 10'000), 1) << "no poll event " << wanted;
  uint32_t events = 0;
  if (p.revents & POLLIN) events |= EPOLLIN;
  if (p.revents & POLLPRI) events |= EPOLLPRI;
  if (p.revents & POLLRDHUP) events |= EPOLLRDHUP;
  if (p.revents & POLLHUP) events |= EPOLLHUP;
  if (p.revents & POLLERR) events |= EPOLLERR;
  return events;
}

// Reads until EOF (or a reset) from the peer; fails the test after 10 s.
std::string read_to_end(int fd, bool* clean_eof) {
  std::string out;
  char buffer[65536];
  *clean_eof = false;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) != 1) continue;
    ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0) {
      *clean_eof = true;
      break;
    }
    if (n < 0 && errno != EAGAIN) break;
    if (n > 0) out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

std::string pattern(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>('a' + i % 26);
  return bytes;
}

class SpliceEndTest : public test::SpliceFixture {
 protected:
  SpliceEndTest() {
    test::TcpPair client_side = test::make_tcp_pair();
    test::TcpPair backend_side = test::make_tcp_pair();
    client_peer_ = std::move(client_side.connected);
    source_.fd = std::move(client_side.accepted);
    sink_.fd = std::move(backend_side.connected);
    backend_peer_ = std::move(backend_side.accepted);
    sink_.writable = true;
  }

  // The client's bytes and its FIN in one segment: corked, the FIN rides on the data.
  void client_sends_with_fin(const std::string& data) {
    int one = 1;
    ASSERT_EQ(setsockopt(client_peer_.get(), IPPROTO_TCP, TCP_CORK, &one, sizeof one), 0);
    ASSERT_EQ(send(client_peer_.get(), data.data(), data.size(), 0),
              static_cast<ssize_t>(data.size()));
    ASSERT_EQ(shutdown(client_peer_.get(), SHUT_WR), 0);
  }

  PumpResult pump() { return splice_pump(source_, sink_, flow_, pipes_, 1 << 20); }
};

TEST_F(SpliceEndTest, DataAndFinInOneSegmentEndTheFlowInOnePump) {
  client_sends_with_fin("hello");
  mark_ready(source_, poll_events(source_.fd.get(), POLLRDHUP));
  ASSERT_TRUE(source_.fin_queued);
  PumpResult result = pump();
  EXPECT_EQ(result.status, PumpStatus::kBlocked);
  EXPECT_EQ(result.moved, 5u);
  EXPECT_TRUE(flow_.source_eof);
  EXPECT_TRUE(flow_.done()) << "the FIN was not passed on";
  bool clean_eof = false;
  EXPECT_EQ(read_to_end(backend_peer_.get(), &clean_eof), "hello");
  EXPECT_TRUE(clean_eof);
}

TEST_F(SpliceEndTest, DataAndALaterFinEndOnlyAtTheFin) {
  ASSERT_EQ(send(client_peer_.get(), "hello", 5, 0), 5);
  mark_ready(source_, poll_events(source_.fd.get(), POLLIN));
  pump();
  EXPECT_FALSE(source_.readable) << "a short read without a FIN proves the socket drained";
  EXPECT_FALSE(flow_.source_eof) << "no FIN yet: the stream goes on";
  ASSERT_EQ(shutdown(client_peer_.get(), SHUT_WR), 0);  // the FIN alone
  mark_ready(source_, poll_events(source_.fd.get(), POLLRDHUP));
  pump();
  EXPECT_TRUE(flow_.done());
  bool clean_eof = false;
  EXPECT_EQ(read_to_end(backend_peer_.get(), &clean_eof), "hello");
  EXPECT_TRUE(clean_eof);
}

// More than the pipe holds waits before the FIN, and the sink takes nothing at first:
// full reads prove no end, and the FIN goes on only behind the last byte.
TEST_F(SpliceEndTest, AFinBehindAFullPipeWaitsForEveryByte) {
  PipePool one_slot(4, 4096);  // one page: every read fills it
  std::string sent = pattern(40000);
  client_sends_with_fin(sent);
  mark_ready(source_, poll_events(source_.fd.get(), POLLRDHUP));
  sink_.writable = false;
  splice_pump(source_, sink_, flow_, one_slot, 1 << 20);
  EXPECT_FALSE(flow_.source_eof) << "a read into a full pipe proved an end";
  std::string received;
  bool clean_eof = false;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!flow_.done() && Clock::now() < deadline) {
    sink_.writable = true;
    splice_pump(source_, sink_, flow_, one_slot, 1 << 20);
  }
  EXPECT_TRUE(flow_.done());
  received = read_to_end(backend_peer_.get(), &clean_eof);
  EXPECT_EQ(received.size(), sent.size());
  EXPECT_TRUE(received == sent) << "bytes lost or out of order";
  EXPECT_TRUE(clean_eof);
}

// A reset after data: RDHUP comes with EPOLLERR, the bytes before it are delivered and
// the reset reported, never taken for a FIN.
TEST_F(SpliceEndTest, ResetAfterDataIsReportedAsAReset) {
  ASSERT_EQ(send(client_peer_.get(), "hello", 5, 0), 5);
  linger abort{1, 0};
  ASSERT_EQ(setsockopt(client_peer_.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort), 0);
  client_peer_.reset();  // RST
  uint32_t events = poll_events(source_.fd.get(), POLLERR);
  ASSERT_TRUE(events & EPOLLERR);
  mark_ready(source_, events);
  PumpResult result = pump();
  EXPECT_EQ(result.status, PumpStatus::kSourceError);
  EXPECT_EQ(result.error, ECONNRESET);
  EXPECT_EQ(flow_.bytes, 5u) << "the bytes before the reset are read first";
  EXPECT_FALSE(flow_.done());
}

}  // namespace
}  // namespace arus
