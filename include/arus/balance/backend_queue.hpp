// BackendQueue: the clients of one route waiting for a backend slot, first in first out,
// shared by every worker (and every generation of the route). Thread-safe: one mutex.
//
// The cross-worker hand-off: a connection closing on any worker gives its slot back with
// release(), which, while clients wait, lets the head of the queue take a slot at once,
// still under the queue's lock and on the releasing thread (QueueWaiter::take_slot), and
// then tells the waiter (QueueWaiter::on_slot_granted), whose owner must move the rest of
// the work to its own thread (the connection posts to its worker's reactor). The slot is
// taken before anyone else can see it free, so a newcomer never jumps the queue.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>

#include "arus/balance/backend_slots.hpp"
#include "arus/core/intrusive_list.hpp"

namespace arus {

class QueueWaiter {
 public:
  // Under the queue's lock, on whichever thread frees a slot: takes a slot on a backend
  // this waiter may use and returns its index, or -1 when none has room. Must not block
  // and must not call back into the queue.
  virtual int take_slot() noexcept = 0;
  // Under the queue's lock, on any thread: the waiter left the queue holding the slot of
  // backend `index`. Only hands over to the waiter's own thread; must not call back into
  // the queue.
  virtual void on_slot_granted(int index) noexcept = 0;

  IntrusiveListHook<QueueWaiter> queue_link;  // only BackendQueue touches it

 protected:
  ~QueueWaiter() = default;
};

class BackendQueue {
 public:
  BackendQueue() = default;
  BackendQueue(const BackendQueue&) = delete;
  BackendQueue& operator=(const BackendQueue&) = delete;

  // True while nobody waits. A newcomer that sees clients waiting must queue behind them
  // (take_or_wait) instead of taking a slot of its own.
  bool empty() const noexcept { return length_.load(std::memory_order_seq_cst) == 0; }

  // The caller found every backend full (or the queue not empty). With nobody waiting it
  // tries waiter.take_slot() once more under the lock and returns the index taken;
  // otherwise it appends `waiter` and returns -1 (on_slot_granted follows later, or the
  // caller cancels). `waiter` must stay alive until granted or cancelled.
  int take_or_wait(QueueWaiter& waiter) noexcept;

  // The waiter gives up (timeout, shutdown). True when it was still waiting and is now
  // out; false when it had been granted a slot already (on_slot_granted ran or runs),
  // which the caller then owns and must release.
  bool cancel(QueueWaiter& waiter) noexcept;

  // Gives one slot of `slots` back and lets waiters take free slots, head first.
  void release(BackendSlots& slots) noexcept;

  // Lets waiters take free slots (a reload raised a cap or added a backend).
  void serve() noexcept;

  // arus_queue_length.
  size_t length() const noexcept { return length_.load(std::memory_order_relaxed); }

 private:
  void serve_locked() noexcept;

  mutable std::mutex mutex_;
  IntrusiveList<QueueWaiter, &QueueWaiter::queue_link> waiters_;  // guarded by mutex_
  // The number of waiters, written under mutex_ and read without it by release()'s fast
  // path.
  std::atomic<size_t> length_{0};
};

}  // namespace arus
