// LogSink: the queue's two sides. Producers (any thread) copy lines into the ring under
// mutex_; the writer thread takes the oldest bytes, writes them with the lock released,
// and then consumes them. Whole lines go in, and one thread writes the bytes in order,
// so lines reach the descriptor whole and never interleaved.
#include "arus/core/log_sink.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace arus::log {
namespace {

// The writer, woken by a first line, waits this long for more before it writes, unless
// kBatchBytes gather first: a burst of lines costs one write(2) and one wake-up, not one
// each, and a lone line still shows within a few milliseconds.
constexpr auto kGatherTime = std::chrono::milliseconds(5);
constexpr size_t kBatchBytes = 16 * 1024;
// One write(2) at most: room in the ring comes back piece by piece to a slow reader.
constexpr size_t kMaxWriteBytes = 64 * 1024;

// The path without a writer: one write(2) per line, as many as a short write needs.
void write_whole(int fd, std::string_view line) noexcept {
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the descriptor is gone or broken: nobody left to tell
    p += n;
    left -= static_cast<size_t>(n);
  }
}

uint64_t count_lines(const iovec* pieces, int count) {
  uint64_t lines = 0;
  for (int i = 0; i < count; ++i) {
    const char* p = static_cast<const char*>(pieces[i].iov_base);
    lines += static_cast<uint64_t>(std::count(p, p + pieces[i].iov_len, '\n'));
  }
  return lines;
}

}  // namespace

LogSink::LogSink(int fd, size_t capacity_bytes, DroppedNotice notice)
    : fd_(fd), notice_(std::move(notice)), ring_(capacity_bytes) {}

LogSink::~LogSink() {
  if (!writer_.joinable()) return;
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    wake_writer_.notify_one();
    writer_ended_.wait(lock, [&] { return writer_done_; });
  }
  writer_.join();
}

void LogSink::start() {
  std::lock_guard lock(mutex_);
  if (started_.load(std::memory_order_relaxed)) return;
  // The thread inherits the signal mask: with all blocked, a process-directed signal
  // (SIGTERM, SIGHUP) goes to the thread reading them through signalfd, never here.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    writer_ = std::thread([this] { run_writer(); });
  } catch (const std::system_error&) {
    // No thread to be had: lines keep being written directly, as before start().
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!writer_.joinable()) return;
  mode_ = Mode::kQueued;
  started_.store(true, std::memory_order_release);
}

bool LogSink::stop(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!writer_.joinable()) return mode_ != Mode::kGivenUp;
  stopping_ = true;
  wake_writer_.notify_one();
  if (!writer_ended_.wait_for(lock, timeout, [&] { return writer_done_; })) {
    mode_ = Mode::kGivenUp;
    return false;
  }
  bool complete = mode_ != Mode::kGivenUp;
  lock.unlock();
  writer_.join();
  return complete;
}

void LogSink::submit(std::string_view line) noexcept {
  if (!started_.load(std::memory_order_acquire)) {
    write_whole(fd_, line);
    return;
  }
  Mode mode;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    mode = mode_;
    if (mode == Mode::kQueued) {
      wake = queue_or_drop(line);
    } else if (mode == Mode::kGivenUp) {
      dropped_total_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (wake) wake_writer_.notify_one();
  if (mode == Mode::kDirect) write_whole(fd_, line);  // the writer has ended: written here
}

bool LogSink::queue_or_drop(std::string_view line) {
  if (!dropping_ && ring_.push(line)) {
    // Wake the writer for the first byte, or when it gathers and a batch is ready;
    // clearing the flags here makes that one notify, not one per line.
    if (!writer_idle_ && !(writer_gathering_ && ring_.used() >= kBatchBytes)) return false;
    writer_idle_ = writer_gathering_ = false;
    return true;
  }
  dropped_total_.fetch_add(1, std::memory_order_relaxed);
  ++dropped_pending_;
  // Everything drops from here until the writer has made room and queued the notice, so
  // the notice stands where the gap is.
  bool wake = !dropping_ && (writer_idle_ || writer_gathering_);
  dropping_ = true;
  return wake;
}

void LogSink::reopen_if_room() {
  // Half the ring free before lines are taken again: under a lasting stall that is one
  // notice per half ring written, not one per line.
  if (!dropping_ || ring_.used() > ring_.capacity() / 2) return;
  ring_.push(notice_(dropped_pending_));  // one short line: fits in half the ring
  dropped_pending_ = 0;
  dropping_ = false;
}

void LogSink::run_writer() {
  std::unique_lock lock(mutex_);
  for (;;) {
    reopen_if_room();
    if (ring_.empty()) {
      if (stopping_) break;
      writer_idle_ = true;
      wake_writer_.wait(lock, [&] { return !ring_.empty() || stopping_ || dropping_; });
      writer_idle_ = false;
      if (!ring_.empty() && ring_.used() < kBatchBytes && !stopping_ && !dropping_) {
        writer_gathering_ = true;
        wake_writer_.wait_for(lock, kGatherTime, [&] {
          return ring_.used() >= kBatchBytes || stopping_ || dropping_;
        });
        writer_gathering_ = false;
      }
      continue;
    }
    iovec pieces[2];
    int count = ring_.peek(pieces);
    lock.unlock();
    // Producers only add after these bytes, so they stay put while written unlocked.
    size_t done = write_out(pieces, count);
    lock.lock();
    ring_.consume(done);
  }
  if (mode_ == Mode::kQueued) mode_ = Mode::kDirect;
  writer_done_ = true;
  writer_ended_.notify_all();
}

size_t LogSink::write_out(const iovec* pieces, int count) {
  iovec limited[2];
  size_t total = 0;
  int n = 0;
  for (; n < count && total < kMaxWriteBytes; ++n) {
    limited[n] = pieces[n];
    limited[n].iov_len = std::min(limited[n].iov_len, kMaxWriteBytes - total);
    total += limited[n].iov_len;
  }
  for (;;) {
    ssize_t written = ::writev(fd_, limited, n);
    if (written > 0) return static_cast<size_t>(written);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // stderr shared with a process that made it non-blocking: wait here, not spin.
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    // Closed or broken (EPIPE, EBADF, EIO, ENOSPC): these bytes cannot be written, so
    // they are given up and counted; the notice could not be written either.
    dropped_total_.fetch_add(count_lines(limited, n), std::memory_order_relaxed);
    return total;
  }
}

}  // namespace arus::log
