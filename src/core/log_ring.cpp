// LogRing: byte ring arithmetic; no locking here (see the header).
#include "arus/core/log_ring.hpp"

#include <algorithm>
#include <cstring>

namespace arus::log {

// Not zeroed: pages the queue never reaches are never touched.
LogRing::LogRing(size_t capacity_bytes)
    : buffer_(std::make_unique_for_overwrite<char[]>(capacity_bytes)), capacity_(capacity_bytes) {}

bool LogRing::push(std::string_view line) noexcept {
  if (line.size() > free_bytes()) return false;
  size_t tail = (head_ + used_) % capacity_;
  size_t first = std::min(line.size(), capacity_ - tail);
  std::memcpy(buffer_.get() + tail, line.data(), first);
  std::memcpy(buffer_.get(), line.data() + first, line.size() - first);
  used_ += line.size();
  return true;
}

int LogRing::peek(iovec (&pieces)[2]) const noexcept {
  if (used_ == 0) return 0;
  size_t first = std::min(used_, capacity_ - head_);
  pieces[0] = {buffer_.get() + head_, first};
  if (first == used_) return 1;
  pieces[1] = {buffer_.get(), used_ - first};
  return 2;
}

void LogRing::consume(size_t n) noexcept {
  head_ = (head_ + n) % capacity_;
  used_ -= n;
  if (used_ == 0) head_ = 0;  // the next lines start at the front: one piece, one write
}

}  // namespace arus::log
