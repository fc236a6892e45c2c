// LogSink: where finished log lines go. Before start() and after stop() a line is written
// at once with one write(2) by the thread that logs it; in between, submit() only copies
// it into a bounded LogRing, and one writer thread of the sink's own writes the ring to
// the file descriptor, blocking there if it must. A line that does not fit is dropped
// and counted, so a stalled reader of stderr never stalls the threads that log.
// Thread-safe: every member function may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "arus/core/log_ring.hpp"

namespace arus::log {

class LogSink {
 public:
  // Builds the line telling that `count` lines were dropped ('\n' included); called by
  // the writer thread with the sink's lock held, so it must not log.
  using DroppedNotice = std::function<std::string(uint64_t count)>;

  // Writes to `fd` (not owned: stderr stays open). `capacity_bytes` bounds the queue.
  LogSink(int fd, size_t capacity_bytes, DroppedNotice notice);
  // Stops as stop() would, but waits for the writer however long it takes.
  ~LogSink();
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  // Starts the writer thread (with every signal blocked, so signals still reach the
  // thread that waits for them). Once only; later calls do nothing.
  void start();

  // Lets the writer write what is queued, for up to `timeout`, then ends it. True when
  // everything was written (later lines are then written at once, as before start());
  // false when the descriptor would not take it all in time: the writer stays blocked
  // in write(2), the rest is given up, and later lines are dropped and counted. A later
  // call waits again and, if the writer has finished by then, ends it for good.
  bool stop(std::chrono::milliseconds timeout);

  // Queues (or, when no writer runs, writes) one whole line, '\n' included. Never waits
  // for I/O while the writer runs: at worst for a memcpy under the lock.
  void submit(std::string_view line) noexcept;

  // Lines given up so far: not queued for lack of room, or lost to a write error.
  uint64_t dropped_total() const noexcept { return dropped_total_.load(std::memory_order_relaxed); }

 private:
  enum class Mode { kDirect, kQueued, kGivenUp };

  void run_writer();
  bool queue_or_drop(std::string_view line);         // mutex_ held; true: wake the writer
  void reopen_if_room();                             // mutex_ held
  size_t write_out(const iovec* pieces, int count);  // writer thread; no lock held

  const int fd_;
  const DroppedNotice notice_;
  // Lets submit() take the direct path without the lock when no writer was ever started.
  std::atomic<bool> started_{false};
  std::atomic<uint64_t> dropped_total_{0};

  std::mutex mutex_;
  std::condition_variable wake_writer_;  // more bytes, dropping began, or stop asked
  std::condition_variable writer_ended_;
  LogRing ring_;                   // guarded by mutex_
  Mode mode_ = Mode::kDirect;      // guarded by mutex_
  bool dropping_ = false;          // guarded by mutex_: lines are dropped until reopened
  uint64_t dropped_pending_ = 0;   // guarded by mutex_: not told yet
  bool writer_idle_ = false;       // guarded by mutex_: waiting for a first byte
  bool writer_gathering_ = false;  // guarded by mutex_: waiting for a batch to fill
  bool stopping_ = false;          // guarded by mutex_
  bool writer_done_ = false;       // guarded by mutex_
  std::thread writer_;
};

}  // namespace arus::log
