// Reactor: readiness dispatch, cross-thread posts, resume queue, timers, deferred tasks.
#include "arus/reactor/reactor.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
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

// Calls `action` on each event.
struct ActionHandler final : EventHandler {
  void on_events(uint32_t) noexcept override { action(); }
  std::function<void()> action;
};

TEST(ReactorTest, RunsDeferredTasksAfterTheWholeTurnInOrder) {
  auto reactor = make_reactor();
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  UniqueFd a(fds[0]), b(fds[1]);
  std::string order;
  ActionHandler handler;
  handler.action = [&] {
    order += "event ";
    reactor->defer([&] { order += "first "; });
    reactor->defer([&] {
      order += "second ";
      reactor->defer([&] { order += "nested "; });  // still this turn
    });
  };
  ASSERT_EQ(reactor->add(a.get(), EPOLLIN | EPOLLET, &handler), 0);
  CountingHandler resumed;
  FlagTimer timer;
  reactor->resume_later(&resumed);
  reactor->timers().schedule(timer, reactor->now_ms());
  reactor->post([&] { order += "posted "; });
  ASSERT_EQ(::write(b.get(), "x", 1), 1);
  reactor->run_once(1000);
  EXPECT_EQ(order, "event posted first second nested ");
  EXPECT_EQ(resumed.calls, 1);
  EXPECT_TRUE(timer.fired);
  order.clear();
  reactor->run_once(0);
  EXPECT_EQ(order, "") << "each deferred task runs once";
}

// What defer is for: an object closed during a batch stays valid for the events of that
// batch that still point to it, and is freed at its end.
TEST(ReactorTest, DeferredFreeOutlivesEventsOfTheSameBatch) {
  auto reactor = make_reactor();
  int first[2], second[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, first), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, second), 0);
  UniqueFd a(first[0]), a_peer(first[1]), b(second[0]), b_peer(second[1]);
  auto victim = std::make_unique<CountingHandler>();
  CountingHandler* victim_seen = victim.get();
  int victim_calls_seen = 0;
  ActionHandler killer;
  killer.action = [&] {
    // Whichever order epoll reports them in, the victim is still alive for its event.
    reactor->defer([&victim, &victim_calls_seen] {
      victim_calls_seen = victim->calls;
      victim.reset();
    });
  };
  ASSERT_EQ(reactor->add(a.get(), EPOLLIN | EPOLLET, &killer), 0);
  ASSERT_EQ(reactor->add(b.get(), EPOLLIN | EPOLLET, victim_seen), 0);
  ASSERT_EQ(::write(a_peer.get(), "x", 1), 1);
  ASSERT_EQ(::write(b_peer.get(), "x", 1), 1);
  reactor->run_once(1000);
  EXPECT_EQ(victim, nullptr);
  EXPECT_EQ(victim_calls_seen, 1);
  reactor->remove(b.get());
}

TEST(ReactorTest, DeferOutsideATurnRunsInTheNextWithoutBlocking) {
  auto reactor = make_reactor();
  bool ran = false;
  reactor->defer([&] { ran = true; });
  uint64_t before = monotonic_ms();
  reactor->run_once(10000);
  EXPECT_TRUE(ran);
  EXPECT_LT(monotonic_ms() - before, 5000u) << "a pending deferred task must not wait";
}

}  // namespace
}  // namespace arus
