// A connection waiting in the backend queue: nothing read from its client while it waits,
// connected when a slot frees (also when the connection freeing it runs on another
// thread, as on another worker), closed with close=queue_timeout past its timeout.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "arus/relay/connection.hpp"
#include "connection_host.hpp"

namespace arus {
namespace {

using test::FakeHost;
using test::Peer;
using test::start;
using test::TestBackend;
using test::TestRoute;

LimitsConfig queue_for(uint64_t timeout_ms) {
  LimitsConfig limits;
  limits.queue_timeout_ms = timeout_ms;
  return limits;
}

// A backend with one slot (backend_cap=1) and two connections on one host: while the
// first holds the slot, the second one waits in the queue (or, without one, is refused).
struct OneSlot {
  explicit OneSlot(uint64_t queue_timeout_ms)
      : route({listening.address}, nullptr, 2, /*backend_cap=*/1, queue_for(queue_timeout_ms)) {}

  TestBackend listening = TestBackend::listening();
  TestRoute route;
  FakeHost host;
  Connection first{host};
  Connection second{host};
};

TEST(ConnectionQueue, WaitsWithoutReadingThenTakesTheFreedSlot) {
  OneSlot q(60'000);
  Peer first_client = start(q.first, q.route);
  Peer first_backend;
  ASSERT_TRUE(q.host.run_until([&] {
    if (!first_backend.fd) first_backend.fd = q.listening.accept();
    return first_backend.fd.valid() && q.first.state() == Connection::State::kRelaying;
  }));

  Peer second_client = start(q.second, q.route);
  EXPECT_EQ(q.second.state(), Connection::State::kQueued);
  EXPECT_EQ(q.route.worker_route().runtime->queue->length(), 1u);
  second_client.send("waiting bytes");
  q.host.run_until([&] { return q.host.turns() >= 5; });
  EXPECT_EQ(q.second.state(), Connection::State::kQueued);
  EXPECT_FALSE(q.listening.accept().valid()) << "no second connection to the backend yet";

  q.first.finish(CloseReason::kShutdown);  // frees the slot: the queue's head takes it
  EXPECT_EQ(q.route.worker_route().runtime->queue->length(), 0u);
  Peer second_backend;
  ASSERT_TRUE(q.host.run_until([&] {
    if (!second_backend.fd) second_backend.fd = q.listening.accept();
    if (second_backend.fd) second_backend.pump();
    return second_backend.received == "waiting bytes";
  }));
  EXPECT_EQ(q.second.state(), Connection::State::kRelaying);
  EXPECT_EQ(q.route.worker_route().runtime->backends[0].slots->active(), 1u);
  q.second.finish(CloseReason::kShutdown);
  EXPECT_EQ(q.route.worker_route().runtime->backends[0].slots->active(), 0u);
}

TEST(ConnectionQueue, ASlotFreedOnAnotherThreadWakesTheWaiter) {
  TestBackend listening = TestBackend::listening();
  TestRoute route({listening.address}, nullptr, 2, /*backend_cap=*/1, queue_for(60'000));
  FakeHost host_a;
  Connection holder(host_a);
  Peer holder_client = start(holder, route);
  Peer holder_backend;
  ASSERT_TRUE(host_a.run_until([&] {
    if (!holder_backend.fd) holder_backend.fd = listening.accept();
    return holder_backend.fd.valid() && holder.state() == Connection::State::kRelaying;
  }));

  // Worker B: its own reactor on its own thread, with a client queued on it.
  std::atomic<bool> queued{false};
  std::atomic<bool> connected{false};
  std::thread worker_b([&] {
    FakeHost host_b;
    Connection waiter(host_b);
    Peer client = start(waiter, route);
    queued.store(waiter.state() == Connection::State::kQueued);
    // Runs its reactor until the grant posted from the other thread has connected it.
    host_b.run_until([&] { return waiter.state() == Connection::State::kRelaying; });
    connected.store(waiter.state() == Connection::State::kRelaying);
    waiter.finish(CloseReason::kShutdown);
  });
  while (route.worker_route().runtime->queue->length() == 0 && !connected.load()) {
    std::this_thread::yield();
  }
  holder.finish(CloseReason::kShutdown);  // on this thread, as worker A
  UniqueFd accepted;
  for (int i = 0; i < 10'000 && !accepted.valid(); ++i) {
    accepted = listening.accept();
    if (!accepted.valid()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  worker_b.join();
  EXPECT_TRUE(queued.load());
  EXPECT_TRUE(connected.load());
  EXPECT_TRUE(accepted.valid());
  EXPECT_EQ(route.worker_route().runtime->backends[0].slots->active(), 0u);
}

TEST(ConnectionQueue, TimesOutWithQueueTimeout) {
  OneSlot q(50);
  Peer first_client = start(q.first, q.route);
  Peer second_client = start(q.second, q.route);
  ASSERT_EQ(q.second.state(), Connection::State::kQueued);
  ASSERT_TRUE(q.host.run_until([&] { return q.second.state() == Connection::State::kClosed; }));
  EXPECT_EQ(q.route.stats().queue_timeouts.load(), 1u);
  EXPECT_EQ(q.route.worker_route().runtime->queue->length(), 0u);
  ASSERT_TRUE(q.host.run_until([&] {
    second_client.read();
    return second_client.ended();
  }));
  q.first.finish(CloseReason::kShutdown);
  EXPECT_EQ(q.route.worker_route().runtime->backends[0].slots->active(), 0u);
}

TEST(ConnectionQueue, WithoutAQueueTheClientOverTheCapIsRefused) {
  OneSlot q(0);
  Peer first_client = start(q.first, q.route);
  Peer second_client = start(q.second, q.route);
  EXPECT_EQ(q.second.state(), Connection::State::kClosed);
  EXPECT_EQ(q.route.stats().refused_backend_limit.load(), 1u);
  q.first.finish(CloseReason::kShutdown);
}

}  // namespace
}  // namespace arus
