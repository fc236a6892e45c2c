// Unit tests for BackendQueue: first in first out, cancel (the timeout path), and the
// hand-off of a slot freed on another thread.
#include "arus/balance/backend_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace arus {
namespace {

// A waiter for one shared BackendSlots: takes a slot when there is room, and records
// the order it was granted in.
struct TestWaiter final : QueueWaiter {
  TestWaiter(BackendSlots& s, int i, std::vector<int>* o) : slots(s), id(i), order(o) {}
  int take_slot() noexcept override { return slots.try_acquire() ? 0 : -1; }
  void on_slot_granted(int index) noexcept override {
    granted_index = index;
    granted.store(true);
    if (order != nullptr) order->push_back(id);
  }
  BackendSlots& slots;
  int id;
  std::vector<int>* order;  // written under the queue's lock only
  int granted_index = -1;
  std::atomic<bool> granted{false};
};

TEST(BackendQueue, TakesAFreeSlotWithoutQueueing) {
  BackendSlots slots(1);
  BackendQueue queue;
  TestWaiter w(slots, 1, nullptr);
  EXPECT_EQ(queue.take_or_wait(w), 0);
  EXPECT_EQ(queue.length(), 0u);
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(slots.active(), 1u);
}

TEST(BackendQueue, GrantsFreedSlotsFirstInFirstOut) {
  BackendSlots slots(2);
  ASSERT_TRUE(slots.try_acquire());
  ASSERT_TRUE(slots.try_acquire());
  BackendQueue queue;
  std::vector<int> order;
  std::deque<TestWaiter> waiters;
  for (int i = 0; i < 5; ++i) {
    waiters.emplace_back(slots, i, &order);
    EXPECT_EQ(queue.take_or_wait(waiters.back()), -1);
  }
  EXPECT_EQ(queue.length(), 5u);
  EXPECT_TRUE(queue.cancel(waiters[2]));  // gave up (its timeout): skipped from now on
  EXPECT_EQ(queue.length(), 4u);
  for (int i = 0; i < 4; ++i) queue.release(slots);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 3, 4}));
  EXPECT_EQ(queue.length(), 0u);
  EXPECT_EQ(slots.active(), 2u);  // each freed slot went straight to a waiter
  EXPECT_FALSE(queue.cancel(waiters[0]));  // granted already: the slot is its owner's
  EXPECT_EQ(waiters[4].granted_index, 0);
}

TEST(BackendQueue, NewcomerQueuesBehindWaitersEvenWithRoom) {
  BackendSlots slots(1);
  ASSERT_TRUE(slots.try_acquire());
  BackendQueue queue;
  std::vector<int> order;
  TestWaiter first(slots, 1, &order), second(slots, 2, &order);
  EXPECT_EQ(queue.take_or_wait(first), -1);
  slots.set_cap(2);  // a reload raised the cap: room, but the first waiter goes first
  EXPECT_EQ(queue.take_or_wait(second), -1);
  queue.serve();  // the reload's commit serves the queue
  EXPECT_EQ(order, (std::vector<int>{1}));
  queue.release(slots);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(BackendQueue, ReleaseWithoutWaitersOnlyFreesTheSlot) {
  BackendSlots slots(1);
  BackendQueue queue;
  ASSERT_TRUE(slots.try_acquire());
  queue.release(slots);
  EXPECT_EQ(slots.active(), 0u);
}

// A slot freed on one thread wakes a waiter owned by another: the grant hands over to the
// owner's thread through a mailbox (as a connection posts to its worker's reactor).
TEST(BackendQueue, SlotFreedOnAnotherThreadWakesTheWaiter) {
  struct Mailbox {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<int> granted;
  } mailbox;
  struct PostingWaiter final : QueueWaiter {
    PostingWaiter(BackendSlots& s, Mailbox& m, int i) : slots(s), mailbox(m), id(i) {}
    int take_slot() noexcept override { return slots.try_acquire() ? 0 : -1; }
    void on_slot_granted(int) noexcept override {
      std::lock_guard lock(mailbox.mutex);
      mailbox.granted.push_back(id);
      mailbox.cv.notify_all();
    }
    BackendSlots& slots;
    Mailbox& mailbox;
    int id;
  };
  constexpr int kWaiters = 200;
  BackendSlots slots(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(slots.try_acquire());
  BackendQueue queue;
  std::deque<PostingWaiter> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.emplace_back(slots, mailbox, i);
    ASSERT_EQ(queue.take_or_wait(waiters.back()), -1);
  }
  // Three "workers" close connections; each granted waiter's connection closes later
  // too (on the owner thread below), so slots keep cycling until everyone was served.
  std::atomic<int> to_release{3};
  std::vector<std::thread> releasers;
  for (int t = 0; t < 3; ++t) {
    releasers.emplace_back([&] {
      while (to_release.fetch_sub(1) > 0) queue.release(slots);
    });
  }
  std::vector<int> served;
  {
    std::unique_lock lock(mailbox.mutex);
    while (static_cast<int>(served.size()) < kWaiters) {
      ASSERT_TRUE(mailbox.cv.wait_for(lock, std::chrono::seconds(30),
                                      [&] { return !mailbox.granted.empty(); }));
      std::vector<int> batch;
      batch.swap(mailbox.granted);
      lock.unlock();
      for (int id : batch) {
        served.push_back(id);
        queue.release(slots);  // that client's connection ends: next one in
      }
      lock.lock();
    }
  }
  for (auto& t : releasers) t.join();
  for (int i = 0; i < kWaiters; ++i) ASSERT_EQ(served[static_cast<size_t>(i)], i);
  EXPECT_EQ(queue.length(), 0u);
  EXPECT_EQ(slots.active(), 0u);
}

// Waiters arriving on several threads while slots are freed on others: nobody is left
// waiting while a slot is free (no lost wake-up between "all full" and "queued").
TEST(BackendQueue, NoLostWakeUpUnderContention) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  BackendSlots slots(2);
  BackendQueue queue;
  std::atomic<int> served{0};
  struct CountingWaiter final : QueueWaiter {
    CountingWaiter(BackendSlots& s, std::atomic<bool>& f) : slots(s), flag(f) {}
    int take_slot() noexcept override { return slots.try_acquire() ? 0 : -1; }
    void on_slot_granted(int) noexcept override { flag.store(true); }
    BackendSlots& slots;
    std::atomic<bool>& flag;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int r = 0; r < kRounds; ++r) {
        std::atomic<bool> granted{false};
        CountingWaiter waiter(slots, granted);
        bool got = slots.try_acquire() || queue.take_or_wait(waiter) >= 0;
        while (!got && !granted.load()) std::this_thread::yield();
        served.fetch_add(1);
        queue.release(slots);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(served.load(), kThreads * kRounds);
  EXPECT_EQ(slots.active(), 0u);
  EXPECT_EQ(queue.length(), 0u);
}

}  // namespace
}  // namespace arus
