// Reactor: readiness dispatch, cross-thread posts, resume queue, timers.
#include "arus/reactor/reactor.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "arus/core/clock.hpp"

namespace arus {
namespace {

struct CountingHandler final : EventHandler {
  void on_events(uint32_t events) noexcept override {
    ++calls;
    last_events = events;
  }
  int calls = 0;
  uint32_t last_events = 0;
};

struct FlagTimer final : Timer {
  void on_timer() noexcept override { fired = true; }
  bool fired = false;
};

std::unique_ptr<Reactor> make_reactor() {
  auto reactor = Reactor::create();
  EXPECT_TRUE(reactor.ok());
  return std::move(*reactor);
}

TEST(ReactorTest, DispatchesEdgeTriggeredReadiness) {
  auto reactor = make_reactor();
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  UniqueFd a(fds[0]), b(fds[1]);
  CountingHandler handler;
  ASSERT_EQ(reactor->add(a.get(), EPOLLIN | EPOLLET, &handler), 0);
  ASSERT_EQ(::write(b.get(), "x", 1), 1);
  for (int i = 0; i < 100 && handler.calls == 0; ++i) reactor->run_once(100);
  EXPECT_EQ(handler.calls, 1);
  EXPECT_TRUE(handler.last_events & EPOLLIN);
  reactor->run_once(0);
  EXPECT_EQ(handler.calls, 1) << "edge-triggered: no new edge, no new call";
}

TEST(ReactorTest, RunsTasksPostedFromOtherThreads) {
  auto reactor = make_reactor();
  std::atomic<int> ran{0};
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i) reactor->post([&] { ran.fetch_add(1); });
  });
  poster.join();
  uint64_t deadline = monotonic_ms() + 10000;
  while (ran.load() < 100 && monotonic_ms() < deadline) reactor->run_once(100);
  EXPECT_EQ(ran.load(), 100);
}

TEST(ReactorTest, ResumesAHandlerOnTheNextTurnUnlessCancelled) {
  auto reactor = make_reactor();
  CountingHandler resumed, cancelled;
  reactor->resume_later(&resumed);
  reactor->resume_later(&cancelled);
  reactor->cancel_resume(&cancelled);
  reactor->run_once(1000);  // must not block: a resume is pending
  EXPECT_EQ(resumed.calls, 1);
  EXPECT_EQ(resumed.last_events, Reactor::kResume);
  EXPECT_EQ(cancelled.calls, 0);
}

TEST(ReactorTest, WakesUpForTimers) {
  auto reactor = make_reactor();
  FlagTimer timer;
  reactor->timers().schedule(timer, monotonic_ms() + 20);
  uint64_t deadline = monotonic_ms() + 10000;
  while (!timer.fired && monotonic_ms() < deadline) reactor->run_once(-1);
  EXPECT_TRUE(timer.fired);
}

}  // namespace
}  // namespace arus
