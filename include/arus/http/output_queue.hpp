// OutputQueue: what an HttpServer client has yet to send, in order. Response heads and
// small bodies are copied in; large bodies are held by reference, shared with every
// other client sending the same rendering, so a client costs a few pointers, not a body.
// Not thread-safe: one per client, on its reactor thread.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

namespace arus {

class OutputQueue {
 public:
  // Bodies smaller than this are copied: cheaper than a reference and an extra iovec.
  static constexpr size_t kShareAtLeast = 16 * 1024;

  void append(std::string_view bytes);
  // Queues `body` (not null, never modified again), by reference unless it is small.
  void append_shared(std::shared_ptr<const std::string> body);

  size_t pending() const noexcept { return pending_; }
  bool empty() const noexcept { return pending_ == 0; }

  // Points up to `max` iovecs at the next unsent bytes, in order; returns how many.
  size_t peek(iovec* iov, size_t max) const noexcept;
  // The first `bytes` (at most pending()) were sent: drops them.
  void consume(size_t bytes) noexcept;

 private:
  struct Segment {
    std::string copied;  // used when `shared` is null
    std::shared_ptr<const std::string> shared;
    std::string_view bytes() const noexcept { return shared ? *shared : copied; }
  };

  std::deque<Segment> segments_;
  size_t front_sent_ = 0;  // bytes of segments_.front() already sent
  size_t pending_ = 0;
};

}  // namespace arus
