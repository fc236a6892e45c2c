// Reactor: one edge-triggered epoll loop with a timer wheel, a ready queue for handlers
// that stopped early to be fair, and a wake-up eventfd for tasks posted from other
// threads. Everything but post() and wake() runs on the reactor's own thread.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "arus/core/result.hpp"
#include "arus/core/unique_fd.hpp"
#include "arus/reactor/timer_wheel.hpp"

namespace arus {

// Receives readiness for one registered descriptor. Borrowed by the reactor: it must
// stay alive until its fd is closed or removed AND the current batch has ended (free
// closed objects with Reactor::defer).
class EventHandler {
 public:
  // `events`: EPOLLIN/EPOLLOUT/EPOLLRDHUP/EPOLLHUP/EPOLLERR bits, or kResume when the
  // handler asked to be called again through Reactor::resume_later.
  virtual void on_events(uint32_t events) noexcept = 0;

 public:
  virtual ~EventHandler() = default;
};

class Reactor {
 public:
  // EPOLLONESHOT's bit: an input flag we never register, so epoll never reports it.
  static constexpr uint32_t kResume = 1u << 30;
  // What a relayed socket listens for; EPOLLPRI flags TCP urgent data, which the splice
  // path must step over by hand.
  static constexpr uint32_t kAllEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;

  static Result<std::unique_ptr<Reactor>> create();
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // Registers `fd` for `events` (add EPOLLET for edge-triggered). Returns an errno value
  // (0 on success): failing to register is a per-connection failure, not fatal.
  int add(int fd, uint32_t events, EventHandler* handler) noexcept;
  // Needed only for fds that stay open; closing an fd unregisters it.
  void remove(int fd) noexcept;

  // Calls handler->on_events(kResume) in the next run_once, before blocking: for a
  // handler that capped its work per wake-up while its edge-triggered fd is still ready.
  // Must not be called twice for one handler before it runs.
  void resume_later(EventHandler* handler);
  // Withdraws a resume_later request (a handler closing before its turn came).
  void cancel_resume(EventHandler* handler) noexcept;

  TimerWheel& timers() noexcept { return timers_; }

  // The time this batch started (CLOCK_MONOTONIC ms): cheap, and consistent in a batch.
  uint64_t now_ms() const noexcept { return now_ms_; }

  // One turn: wait for events (at most `max_wait_ms`, -1 = until a timer or event),
  // dispatch them, run resumed handlers, fire due timers, run posted tasks, then run
  // deferred tasks.
  void run_once(int max_wait_ms) noexcept;

  // Reactor thread only: runs `task` at the end of this turn, after every event, resume,
  // timer and posted task of it, in the order deferred (a task deferred by a deferred
  // task runs in the same turn). The one way to free an object an event still queued in
  // this batch may point to. Called outside a turn, it runs at the end of the next one,
  // which then does not block. Allocates nothing within the reserved capacity, for a
  // task std::function stores inline (libstdc++: a trivially copyable callable of up to
  // two pointers, such as [this, object]). Tasks left when the reactor is destroyed are
  // dropped unrun.
  void defer(std::function<void()> task);
  // Makes room for `count` deferred tasks per turn (throws std::bad_alloc), so that
  // deferring from a noexcept path cannot fail.
  void reserve_deferred(size_t count) { deferred_.reserve(count); }

  // Thread-safe: queue `task` to run on the reactor thread and wake it.
  void post(std::function<void()> task);

 private:
  Reactor(UniqueFd epoll_fd, UniqueFd wake_fd);
  void run_posted_tasks() noexcept;
  void run_deferred_tasks() noexcept;

  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;
  std::unique_ptr<EventHandler> wake_handler_;
  TimerWheel timers_;
  uint64_t now_ms_;
  std::vector<epoll_event> events_;
  std::vector<EventHandler*> resume_;       // handlers to call again this turn
  std::vector<EventHandler*> resume_next_;  // swapped with resume_ each turn
  std::vector<std::function<void()>> deferred_;  // run at the end of the turn

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by posted_mutex_
};

}  // namespace arus
