// splice_pump over real TCP, driven by an edge-triggered epoll as the worker drives it: a
// pump that stops reading while bytes wait, with no new edge to come, stalls the test.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "../support/tcp_pair.hpp"
#include "arus/relay/splice_pump.hpp"

namespace arus {
namespace {

using Clock = std::chrono::steady_clock;

// The relay's readiness rules (mark_ready, flow.hpp), for the two sockets of one direction.
void mark(Endpoint& endpoint, uint32_t events) { mark_ready(endpoint, events); }

std::string pattern(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>('a' + i % 26);
  return bytes;
}

class SplicePumpTcpTest : public ::testing::Test {
 protected:
  // One direction client -> backend: source_ is the proxy's client socket, sink_ its
  // backend socket; client_ and backend_ are the peers' ends.
  void connect_all() { test::connect_direction(source_, sink_, client_, backend_, epoll_); }

  // Runs the pump on epoll edges only, reading what reaches the backend, until `expected`
  // bytes or the FIN arrived, or nothing happened for `quiet` (a stall), or a minute passed.
  std::string relay(PipePool& pipes, size_t expected, std::chrono::milliseconds quiet) {
    std::string received;
    bool eof = false;
    bool resume = false;  // the pump yielded: call it again, as Connection's kResume does
    auto deadline = Clock::now() + std::chrono::seconds(60);
    auto last_activity = Clock::now();
    char buffer[65536];
    while (!eof && received.size() < expected && Clock::now() < deadline &&
           Clock::now() - last_activity < quiet) {
      epoll_event events[2];
      int n = epoll_wait(epoll_.get(), events, 2, resume ? 0 : 10);
      for (int i = 0; i < n; ++i) mark(events[i].data.u32 == 0 ? source_ : sink_, events[i].events);
      if (n > 0) last_activity = Clock::now();
      if (n > 0 || resume) {
        PumpResult result = splice_pump(source_, sink_, flow_, pipes, 1 << 20);
        EXPECT_TRUE(result.status == PumpStatus::kBlocked || result.status == PumpStatus::kYield);
        resume = result.status == PumpStatus::kYield;
        if (resume) source_.readable = true;
      }
      // The backend reads slowly: one read per turn.
      ssize_t got = ::read(backend_.get(), buffer, sizeof buffer);
      if (got > 0) {
        received.append(buffer, static_cast<size_t>(got));
        last_activity = Clock::now();
      }
      if (got == 0) eof = true;
    }
    return received;
  }

  Endpoint source_;
  Endpoint sink_;
  Flow flow_;
  UniqueFd client_;
  UniqueFd backend_;
  UniqueFd epoll_;
};

// Many one-byte segments wait before the pump runs, and a one-page pipe fills by slots on
// a few bytes: a short read there must not be taken for a drained socket.
TEST_F(SplicePumpTcpTest, OneByteSegmentsThroughAOneSlotPipeAllArrive) {
  connect_all();
  PipePool pipes(4, 4096);  // F_SETPIPE_SZ rounds up to one page: one slot
  std::string sent = pattern(3000);
  for (char byte : sent) ASSERT_EQ(::send(client_.get(), &byte, 1, MSG_NOSIGNAL), 1);
  // No FIN yet: EPOLLRDHUP would make the pump read on to the end whatever it concluded.
  std::string received = relay(pipes, sent.size(), std::chrono::seconds(2));
  EXPECT_EQ(received.size(), sent.size()) << "the relay stalled";
  EXPECT_TRUE(received == sent) << "bytes lost or out of order";
  ASSERT_EQ(::shutdown(client_.get(), SHUT_WR), 0);
  relay(pipes, SIZE_MAX, std::chrono::seconds(5));
  EXPECT_TRUE(flow_.done()) << "the FIN was passed on";
}

// The same with a pipe of 16 slots, where reads of fewer than 16 bytes prove the socket
// drained, and the sender writing while the pump runs.
TEST_F(SplicePumpTcpTest, OneByteSegmentsWhileRelayingAllArrive) {
  connect_all();
  PipePool pipes(4, 64 * 1024);
  std::string sent = pattern(20000);
  size_t written = 0;
  std::string received;
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (written < sent.size() && Clock::now() < deadline) {
    // A burst of 1 to 40 one-byte segments, then relay what the edges say is there.
    size_t burst = 1 + written % 40;
    for (size_t i = 0; i < burst && written < sent.size(); ++i, ++written) {
      ASSERT_EQ(::send(client_.get(), &sent[written], 1, MSG_NOSIGNAL), 1);
    }
    epoll_event events[2];
    int n = epoll_wait(epoll_.get(), events, 2, 0);
    for (int i = 0; i < n; ++i) mark(events[i].data.u32 == 0 ? source_ : sink_, events[i].events);
    splice_pump(source_, sink_, flow_, pipes, 1 << 20);
    char buffer[4096];
    ssize_t got = ::read(backend_.get(), buffer, sizeof buffer);
    if (got > 0) received.append(buffer, static_cast<size_t>(got));
  }
  received += relay(pipes, sent.size() - received.size(), std::chrono::seconds(2));
  EXPECT_EQ(received.size(), sent.size()) << "the relay stalled";
  EXPECT_TRUE(received == sent) << "bytes lost or out of order";
  ASSERT_EQ(::shutdown(client_.get(), SHUT_WR), 0);
  relay(pipes, SIZE_MAX, std::chrono::seconds(5));
  EXPECT_TRUE(flow_.done()) << "the FIN was passed on";
}

}  // namespace
}  // namespace arus
