// buffered_pump over real TCP and real pipes, driven by edge-triggered epoll as the
// worker drives it, with a backend that reads slowly (the sink blocks and pipes fill).
// One client -> backend direction; single-threaded test use only.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "../support/tcp_pair.hpp"
#include "arus/relay/buffered_pump.hpp"
#include "arus/relay/filter_stage.hpp"

namespace arus::test {

class BufferedPumpTcp {
 public:
  void connect() { connect_direction(source_, sink_, client_, backend_, epoll_); }

  // Sends `input` from the client (then its FIN) while pumping, and returns what the
  // backend received up to the FIN, or what it had when nothing moved for 5 s. The
  // client sends at most `send_chunk` bytes a call (small ones make small reads).
  std::string relay(FilterStage& stage, PipePool& pipes, const std::string& input,
                    size_t send_chunk = 100000) {
    using Clock = std::chrono::steady_clock;
    std::string received;
    size_t written = 0;
    bool resume = false;
    bool eof = false;
    auto last_activity = Clock::now();
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    char buffer[65536];
    while (!eof && Clock::now() < deadline &&
           Clock::now() - last_activity < std::chrono::seconds(5)) {
      if (written < input.size()) {
        ssize_t n = ::send(client_.get(), input.data() + written,
                           std::min<size_t>(input.size() - written, send_chunk),
                           MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) written += static_cast<size_t>(n);
        if (written == input.size()) ::shutdown(client_.get(), SHUT_WR);
      }
      epoll_event events[2];
      int n = epoll_wait(epoll_.get(), events, 2, resume ? 0 : 5);
      for (int i = 0; i < n; ++i) {
        mark_ready(events[i].data.u32 == 0 ? source_ : sink_, events[i].events);
      }
      if (n > 0 || resume) {
        PumpResult result = buffered_pump(source_, sink_, flow_, stage, pipes, 1 << 20);
        EXPECT_TRUE(result.status == PumpStatus::kBlocked || result.status == PumpStatus::kYield)
            << static_cast<int>(result.status);
        resume = result.status == PumpStatus::kYield;
        // The stage's books and the pump's count of the pipe agree.
        EXPECT_EQ(stage.pipe_bytes(), flow_.pipe_bytes);
      }
      ssize_t got = ::read(backend_.get(), buffer, 16384);  // a slow reader
      if (got > 0) {
        received.append(buffer, static_cast<size_t>(got));
        last_activity = Clock::now();
      }
      if (got == 0) eof = true;
    }
    EXPECT_TRUE(eof) << "no FIN reached the backend";
    return received;
  }

  Endpoint source_;
  Endpoint sink_;
  Flow flow_;
  UniqueFd client_;
  UniqueFd backend_;
  UniqueFd epoll_;
};

}  // namespace arus::test
