// OutputQueue: copied and shared segments, sent front to back.
#include "arus/http/output_queue.hpp"

#include <utility>

namespace arus {

void OutputQueue::append(std::string_view bytes) {
  if (bytes.empty()) return;
  if (segments_.empty() || segments_.back().shared) segments_.emplace_back();
  segments_.back().copied.append(bytes);
  pending_ += bytes.size();
}

void OutputQueue::append_shared(std::shared_ptr<const std::string> body) {
  if (body->size() < kShareAtLeast) return append(*body);
  pending_ += body->size();
  segments_.push_back(Segment{{}, std::move(body)});
}

size_t OutputQueue::peek(iovec* iov, size_t max) const noexcept {
  size_t count = 0;
  size_t skip = front_sent_;
  for (const Segment& segment : segments_) {
    if (count == max) break;
    std::string_view bytes = segment.bytes().substr(skip);
    skip = 0;
    iov[count].iov_base = const_cast<char*>(bytes.data());  // sendmsg only reads it
    iov[count].iov_len = bytes.size();
    ++count;
  }
  return count;
}

void OutputQueue::consume(size_t bytes) noexcept {
  pending_ -= bytes;
  while (bytes > 0) {
    size_t left = segments_.front().bytes().size() - front_sent_;
    if (bytes < left) {
      front_sent_ += bytes;
      return;
    }
    bytes -= left;
    front_sent_ = 0;
    segments_.pop_front();  // frees a copy, or drops one reference to a shared body
  }
}

}  // namespace arus
