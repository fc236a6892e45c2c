// Acceptor over a real loopback listener: batches end drained or full, as the caller's
// reactor needs to know.
#include "arus/net/acceptor.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "arus/net/socket.hpp"

namespace arus {
namespace {

class Recorder : public AcceptHandler {
 public:
  void on_accepted(UniqueFd client_fd, const SocketAddress& peer) noexcept override {
    EXPECT_TRUE(client_fd.valid());
    EXPECT_EQ(peer.to_string().rfind("127.0.0.1:", 0), 0u) << peer.to_string();
    accepted.push_back(std::move(client_fd));
  }
  void on_refused_no_descriptor(const SocketAddress&) noexcept override { ++refused; }
  void on_accept_error(int error) noexcept override { errors.push_back(error); }

  std::vector<UniqueFd> accepted;
  int refused = 0;
  std::vector<int> errors;
};

class AcceptorTest : public ::testing::Test {
 protected:
  AcceptorTest() {
    Result<SocketAddress> any = resolve(HostPort{"127.0.0.1", 0});
    EXPECT_TRUE(any.ok());
    Result<UniqueFd> fd = listen_tcp(any.value(), /*reuse_port=*/false, 16);
    EXPECT_TRUE(fd.ok()) << (fd ? "" : fd.error().message);
    listener_ = std::move(fd).value();
  }

  // Connects `count` clients and waits until the listener has them pending.
  void connect_clients(size_t count) {
    for (size_t i = 0; i < count; ++i) {
      ConnectAttempt attempt = connect_tcp(local_address(listener_.get()));
      ASSERT_TRUE(attempt.fd.valid()) << attempt.error;
      pollfd connected{attempt.fd.get(), POLLOUT, 0};
      ASSERT_EQ(poll(&connected, 1, 10'000), 1);
      clients_.push_back(std::move(attempt.fd));
    }
  }

  DescriptorReserve reserve_;  // the spare the acceptors under test share
  UniqueFd listener_;
  std::vector<UniqueFd> clients_;
};

TEST_F(AcceptorTest, NothingPendingEndsDrained) {
  Acceptor acceptor(&reserve_);
  Recorder recorder;
  EXPECT_EQ(acceptor.accept_batch(listener_.get(), 8, recorder), Acceptor::End::kDrained);
  EXPECT_TRUE(recorder.accepted.empty());
  EXPECT_TRUE(recorder.errors.empty());
}

TEST_F(AcceptorTest, AcceptsEveryPendingClientThenEndsDrained) {
  connect_clients(3);
  Acceptor acceptor(/*reserve=*/nullptr);
  Recorder recorder;
  EXPECT_EQ(acceptor.accept_batch(listener_.get(), 8, recorder), Acceptor::End::kDrained);
  EXPECT_EQ(recorder.accepted.size(), 3u);
  EXPECT_EQ(recorder.refused, 0);
}

TEST_F(AcceptorTest, AFullBatchSaysMoreMayBePending) {
  connect_clients(3);
  Acceptor acceptor(&reserve_);
  Recorder recorder;
  EXPECT_EQ(acceptor.accept_batch(listener_.get(), 2, recorder), Acceptor::End::kBatchFull);
  EXPECT_EQ(recorder.accepted.size(), 2u);
  EXPECT_EQ(acceptor.accept_batch(listener_.get(), 2, recorder), Acceptor::End::kDrained);
  EXPECT_EQ(recorder.accepted.size(), 3u);
}

TEST_F(AcceptorTest, AFailedAcceptIsReportedAndRetriedLater) {
  Acceptor acceptor(&reserve_);
  Recorder recorder;
  UniqueFd not_listening(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  EXPECT_EQ(acceptor.accept_batch(not_listening.get(), 8, recorder), Acceptor::End::kRetryLater);
  EXPECT_EQ(recorder.errors, std::vector<int>{EINVAL});
}

}  // namespace
}  // namespace arus
