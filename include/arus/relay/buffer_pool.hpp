// BufferPool: fixed-size byte blocks for the buffered (filter) path, recycled per worker
// so the steady state allocates nothing. Not thread-safe: one pool per worker, and every
// PooledBuffer is returned on that worker's thread. The pool must outlive its buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace arus {

class BufferPool;

// One block on loan from a BufferPool; returns it when destroyed or reset. Move-only.
class PooledBuffer {
 public:
  PooledBuffer() noexcept = default;
  PooledBuffer(PooledBuffer&& other) noexcept
      : pool_(std::exchange(other.pool_, nullptr)), block_(std::move(other.block_)) {}
  PooledBuffer& operator=(PooledBuffer&& other) noexcept {
    if (this != &other) {
      reset();
      pool_ = std::exchange(other.pool_, nullptr);
      block_ = std::move(other.block_);
    }
    return *this;
  }
  PooledBuffer(const PooledBuffer&) = delete;
  PooledBuffer& operator=(const PooledBuffer&) = delete;
  ~PooledBuffer() { reset(); }

  uint8_t* data() const noexcept { return block_.get(); }
  explicit operator bool() const noexcept { return block_ != nullptr; }
  inline void reset() noexcept;  // gives the block back to its pool

 private:
  friend class BufferPool;
  PooledBuffer(BufferPool* pool, std::unique_ptr<uint8_t[]> block) noexcept
      : pool_(pool), block_(std::move(block)) {}

  BufferPool* pool_ = nullptr;
  std::unique_ptr<uint8_t[]> block_;
};

class BufferPool {
 public:
  // Blocks of `block_size` bytes; at most `max_cached` idle blocks are kept for reuse,
  // more are freed on return, so a burst does not pin its peak memory forever.
  BufferPool(size_t block_size, size_t max_cached)
      : block_size_(block_size), max_cached_(max_cached) {
    free_.reserve(max_cached);  // so returning a block never allocates
  }
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A cached block, or a new one; an empty PooledBuffer when memory is exhausted.
  PooledBuffer acquire() noexcept {
    ++outstanding_;
    if (!free_.empty()) {
      std::unique_ptr<uint8_t[]> block = std::move(free_.back());
      free_.pop_back();
      return PooledBuffer(this, std::move(block));
    }
    std::unique_ptr<uint8_t[]> block(new (std::nothrow) uint8_t[block_size_]);
    if (!block) {
      --outstanding_;
      return PooledBuffer();
    }
    return PooledBuffer(this, std::move(block));
  }

  size_t block_size() const noexcept { return block_size_; }
  size_t outstanding() const noexcept { return outstanding_; }  // blocks on loan
  size_t cached() const noexcept { return free_.size(); }       // idle blocks kept

 private:
  friend class PooledBuffer;
  void release(std::unique_ptr<uint8_t[]> block) noexcept {
    --outstanding_;
    if (free_.size() < max_cached_) free_.push_back(std::move(block));
  }

  const size_t block_size_;
  const size_t max_cached_;
  size_t outstanding_ = 0;
  std::vector<std::unique_ptr<uint8_t[]>> free_;
};

inline void PooledBuffer::reset() noexcept {
  if (block_) pool_->release(std::move(block_));
  pool_ = nullptr;
}

}  // namespace arus
