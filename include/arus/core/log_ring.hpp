// LogRing: a fixed-size ring of bytes holding whole log lines back to back, filled at
// its tail and consumed at its head. Not thread-safe: LogSink guards it with its mutex,
// and lets its writer read the bytes between head and tail without the lock (nobody
// else touches them until consume()).
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <memory>
#include <string_view>

namespace arus::log {

class LogRing {
 public:
  explicit LogRing(size_t capacity_bytes);
  LogRing(const LogRing&) = delete;
  LogRing& operator=(const LogRing&) = delete;

  size_t capacity() const noexcept { return capacity_; }
  size_t used() const noexcept { return used_; }
  size_t free_bytes() const noexcept { return capacity_ - used_; }
  bool empty() const noexcept { return used_ == 0; }

  // Copies `line` in whole after the bytes held; false (nothing copied) when it does not
  // fit. Never splits a line between two calls.
  bool push(std::string_view line) noexcept;

  // The bytes held, oldest first, as one or two pieces (two when they wrap around the
  // end of the buffer); fills `pieces` and returns how many (0 when empty).
  int peek(iovec (&pieces)[2]) const noexcept;

  // Forgets the oldest `n` bytes (n <= used()), e.g. those just written out.
  void consume(size_t n) noexcept;

 private:
  std::unique_ptr<char[]> buffer_;
  size_t capacity_;
  size_t head_ = 0;  // index of the oldest byte held
  size_t used_ = 0;
};

}  // namespace arus::log
