// splice_pump over real sockets (AF_UNIX socketpairs): order, EOF, backpressure, pipe reuse.
#include "arus/relay/splice_pump.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>

#include <string>

#include "../support/splice_fixture.hpp"

namespace arus {
namespace {

// A connected pair: `near` is the proxy's end (in an Endpoint), `far` the peer's end.
struct SocketPair {
  UniqueFd near_end;
  UniqueFd far_end;
};

SocketPair make_pair() {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::string read_available(int fd) {
  std::string out;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

class SplicePumpTest : public test::SpliceFixture {
 protected:
  SplicePumpTest() {
    SocketPair client = make_pair();
    SocketPair backend = make_pair();
    source_.fd = std::move(client.near_end);
    client_peer_ = std::move(client.far_end);
    sink_.fd = std::move(backend.near_end);
    backend_peer_ = std::move(backend.far_end);
    source_.readable = sink_.writable = true;
  }

  PumpResult pump(size_t budget = 1 << 20) {
    return splice_pump(source_, sink_, flow_, pipes_, budget);
  }
};

TEST_F(SplicePumpTest, MovesBytesInOrderAndReleasesThePipe) {
  std::string message = "hello, backend";
  ASSERT_EQ(::write(client_peer_.get(), message.data(), message.size()),
            static_cast<ssize_t>(message.size()));
  PumpResult result = pump();
  EXPECT_EQ(result.status, PumpStatus::kBlocked);
  EXPECT_EQ(result.moved, message.size());
  EXPECT_EQ(flow_.bytes, message.size());
  EXPECT_EQ(read_available(backend_peer_.get()), message);
  EXPECT_FALSE(source_.readable) << "EAGAIN on an empty pipe means the socket is drained";
  EXPECT_FALSE(flow_.pipe.valid()) << "an idle flow holds no pipe";
  EXPECT_EQ(pipes_.pooled(), 1u);
}

TEST_F(SplicePumpTest, PassesEofOnAfterTheLastByte) {
  ASSERT_EQ(::write(client_peer_.get(), "bye", 3), 3);
  ASSERT_EQ(::shutdown(client_peer_.get(), SHUT_WR), 0);
  source_.hangup = true;  // what EPOLLRDHUP tells the relay: read on to the EOF
  PumpResult result = pump();
  EXPECT_EQ(result.status, PumpStatus::kBlocked);
  EXPECT_TRUE(flow_.source_eof);
  EXPECT_TRUE(flow_.done());
  EXPECT_EQ(read_available(backend_peer_.get()), "bye");
  char byte;
  EXPECT_EQ(::read(backend_peer_.get(), &byte, 1), 0) << "the backend sees FIN after the data";
}

TEST_F(SplicePumpTest, StopsReadingWhenTheSinkIsFull) {
  // The backend never reads: the sink fills, the pump must stop, holding at most one pipe.
  std::string chunk(64 * 1024, 'x');
  size_t written = 0;
  for (int i = 0; i < 1000 && sink_.writable; ++i) {
    ssize_t n = ::write(client_peer_.get(), chunk.data(), chunk.size());
    if (n > 0) written += static_cast<size_t>(n);
    source_.readable = true;
    pump();
  }
  ASSERT_GT(written, 0u);
  EXPECT_FALSE(sink_.writable) << "the pump noticed backpressure";
  EXPECT_LE(flow_.pipe_bytes, static_cast<size_t>(flow_.pipe.capacity));
  EXPECT_TRUE(flow_.pipe.valid()) << "bytes in flight keep their pipe";

  // Drain the backend side and let the pump finish: every byte arrives, in order.
  std::string received;
  for (int i = 0; i < 10000 && received.size() < written; ++i) {
    received += read_available(backend_peer_.get());
    sink_.writable = true;
    source_.readable = true;
    pump();
  }
  received += read_available(backend_peer_.get());
  EXPECT_EQ(received.size(), written);
  EXPECT_EQ(received, std::string(written, 'x'));
}

TEST_F(SplicePumpTest, YieldsAfterItsBudget) {
  std::string chunk(32 * 1024, 'y');
  ASSERT_EQ(::write(client_peer_.get(), chunk.data(), chunk.size()),
            static_cast<ssize_t>(chunk.size()));
  PumpResult result = pump(/*budget=*/1024);
  EXPECT_EQ(result.status, PumpStatus::kYield);
  EXPECT_TRUE(source_.readable);
}

TEST_F(SplicePumpTest, ReportsASinkThatWentAway) {
  ASSERT_EQ(::write(client_peer_.get(), "data", 4), 4);
  backend_peer_.reset();  // the backend vanished
  signal(SIGPIPE, SIG_IGN);  // as the daemon does: a vanished peer is an EPIPE, not a death
  PumpResult result = pump();
  EXPECT_EQ(result.status, PumpStatus::kSinkError);
  EXPECT_EQ(result.error, EPIPE);
}

TEST_F(SplicePumpTest, AfterASourceResetDeliversThePipeButSendsNoFin) {
  // The backend is full, so bytes wait in the pipe when the client's reset is read.
  std::string chunk(64 * 1024, 'r');
  while (sink_.writable) {
    ASSERT_GT(::write(client_peer_.get(), chunk.data(), chunk.size()), 0);
    source_.readable = true;
    pump();
  }
  ASSERT_GT(flow_.pipe_bytes, 0u);
  // What Connection does on kSourceError: the source ended, by a reset.
  flow_.source_eof = flow_.source_reset = true;

  std::string received;
  for (int i = 0; i < 10000 && !flow_.done(); ++i) {
    received += read_available(backend_peer_.get());
    sink_.writable = true;
    pump();
  }
  EXPECT_TRUE(flow_.done()) << "the pipe was delivered";
  EXPECT_EQ(flow_.pipe_bytes, 0u);
  received += read_available(backend_peer_.get());
  EXPECT_GT(received.size(), 0u);
  char byte;
  EXPECT_EQ(::read(backend_peer_.get(), &byte, 1), -1) << "no FIN: the close passes a reset";
  EXPECT_EQ(errno, EAGAIN);
}

}  // namespace
}  // namespace arus
