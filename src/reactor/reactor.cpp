// Reactor: epoll_wait, dispatch, resumed handlers, timers, posted tasks, deferred tasks.
#include "arus/reactor/reactor.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "arus/core/clock.hpp"

namespace arus {
namespace {

constexpr int kMaxEventsPerWait = 256;

// The wake-up eventfd's handler: reads the counter so the next post() wakes us again.
class WakeHandler final : public EventHandler {
 public:
  explicit WakeHandler(int fd) : fd_(fd) {}
  void on_events(uint32_t) noexcept override {
    uint64_t count;
    while (::read(fd_, &count, sizeof count) > 0) {
    }
  }

 private:
  int fd_;
};

}  // namespace

Result<std::unique_ptr<Reactor>> Reactor::create() {
  UniqueFd epoll_fd(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd) return posix_error("epoll_create1", errno);
  UniqueFd wake_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd) return posix_error("eventfd", errno);
  return std::unique_ptr<Reactor>(new Reactor(std::move(epoll_fd), std::move(wake_fd)));
}

Reactor::Reactor(UniqueFd epoll_fd, UniqueFd wake_fd)
    : epoll_fd_(std::move(epoll_fd)),
      wake_fd_(std::move(wake_fd)),
      timers_(monotonic_ms()),
      now_ms_(monotonic_ms()),
      events_(kMaxEventsPerWait) {
  wake_handler_ = std::make_unique<WakeHandler>(wake_fd_.get());
  if (add(wake_fd_.get(), EPOLLIN | EPOLLET, wake_handler_.get()) != 0) {
    // Without the wake-up fd nothing can reach this reactor: a broken invariant.
    fprintf(stderr, "arus: cannot register eventfd: %s\n", strerror(errno));
    abort();
  }
}

Reactor::~Reactor() = default;

int Reactor::add(int fd, uint32_t events, EventHandler* handler) noexcept {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : errno;
}

void Reactor::remove(int fd) noexcept { epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr); }

void Reactor::resume_later(EventHandler* handler) { resume_next_.push_back(handler); }

void Reactor::cancel_resume(EventHandler* handler) noexcept {
  // Rare (a connection closing with a yield outstanding) and the list is short.
  std::erase(resume_next_, handler);
  std::replace(resume_.begin(), resume_.end(), handler, static_cast<EventHandler*>(nullptr));
}

void Reactor::run_once(int max_wait_ms) noexcept {
  int timeout = max_wait_ms;
  if (!resume_next_.empty() || !deferred_.empty()) {
    timeout = 0;
  } else {
    int64_t until_timer = timers_.ms_until_next(monotonic_ms());
    if (until_timer >= 0 && (timeout < 0 || until_timer < timeout)) {
      timeout = static_cast<int>(until_timer);
    }
  }

  int n = epoll_wait(epoll_fd_.get(), events_.data(), static_cast<int>(events_.size()), timeout);
  if (n < 0 && errno != EINTR) {
    // Only EBADF/EFAULT/EINVAL are possible here: our own state is broken.
    fprintf(stderr, "arus: epoll_wait: %s\n", strerror(errno));
    abort();
  }
  now_ms_ = monotonic_ms();
  for (int i = 0; i < n; ++i) {
    static_cast<EventHandler*>(events_[i].data.ptr)->on_events(events_[i].events);
  }

  // Handlers that yielded (in an earlier turn, or in this batch's events) run now,
  // after every event of the batch; what they queue again waits for the next turn, after
  // fresh events, so one busy connection cannot starve the rest. A connection that
  // yields on an event thus moves up to two budgets in one turn.
  resume_.swap(resume_next_);
  for (EventHandler* handler : resume_) {
    if (handler != nullptr) handler->on_events(kResume);
  }
  resume_.clear();

  timers_.advance(now_ms_);
  run_posted_tasks();
  run_deferred_tasks();
}

void Reactor::defer(std::function<void()> task) { deferred_.push_back(std::move(task)); }

void Reactor::run_deferred_tasks() noexcept {
  // By index: a task may defer another, which may grow the vector under us.
  for (size_t i = 0; i < deferred_.size(); ++i) {
    std::function<void()> task = std::move(deferred_[i]);
    task();
  }
  deferred_.clear();  // keeps its capacity: steady traffic defers without allocating
}

void Reactor::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    posted_.push_back(std::move(task));
  }
  uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the reactor will wake anyway.
  [[maybe_unused]] ssize_t rc = ::write(wake_fd_.get(), &one, sizeof one);
}

void Reactor::run_posted_tasks() noexcept {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    if (posted_.empty()) return;
    tasks.swap(posted_);
  }
  for (auto& task : tasks) task();
}

}  // namespace arus
