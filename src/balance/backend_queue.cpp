// BackendQueue: FIFO of waiters; slots are handed over under one lock.
#include "arus/balance/backend_queue.hpp"

namespace arus {

int BackendQueue::take_or_wait(QueueWaiter& waiter) noexcept {
  std::lock_guard lock(mutex_);
  // Counted before the last try: a release() that gives a slot back after this try sees
  // the waiter (both are seq_cst), one before it left the slot for this try to find.
  length_.fetch_add(1, std::memory_order_seq_cst);
  if (waiters_.empty()) {
    int index = waiter.take_slot();
    if (index >= 0) {
      length_.fetch_sub(1, std::memory_order_seq_cst);
      return index;
    }
  }
  waiters_.push_back(waiter);
  return -1;
}

bool BackendQueue::cancel(QueueWaiter& waiter) noexcept {
  std::lock_guard lock(mutex_);
  if (!waiter.queue_link.linked()) return false;
  waiters_.erase(waiter);
  length_.fetch_sub(1, std::memory_order_seq_cst);
  return true;
}

void BackendQueue::release(BackendSlots& slots) noexcept {
  slots.release();
  // Nobody waits (the common case): no lock. A waiter counted after this load made its
  // last try after the slot came back, so it found the slot itself (take_or_wait).
  if (length_.load(std::memory_order_seq_cst) == 0) return;
  std::lock_guard lock(mutex_);
  serve_locked();
}

void BackendQueue::serve() noexcept {
  std::lock_guard lock(mutex_);
  serve_locked();
}

void BackendQueue::serve_locked() noexcept {
  // Strictly first in, first out: when the head finds no slot, nobody behind it may.
  while (QueueWaiter* head = waiters_.front()) {
    int index = head->take_slot();
    if (index < 0) return;
    waiters_.erase(*head);
    length_.fetch_sub(1, std::memory_order_seq_cst);
    head->on_slot_granted(index);
  }
}

}  // namespace arus
