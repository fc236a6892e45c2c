// PipePool: per-worker pipe recycling for splice(2). Not thread-safe.
#include "arus/relay/pipe_pool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace arus {

PipePool::PipePool(size_t max_pooled, int pipe_size_bytes, MakePipe make_pipe,
                   LargePipes large)
    : max_pooled_(max_pooled),
      pipe_size_bytes_(pipe_size_bytes),
      make_pipe_(make_pipe != nullptr ? make_pipe : ::pipe2),
      large_(large) {
  pool_.reserve(max_pooled);
}

Pipe PipePool::acquire() noexcept {
  if (!pool_.empty()) {
    Pipe pipe = std::move(pool_.back());
    pool_.pop_back();
    ++reused_;
    return pipe;
  }
  int fds[2];
  if (make_pipe_(fds, O_NONBLOCK | O_CLOEXEC) != 0) return Pipe{};
  Pipe pipe;
  pipe.read_end.reset(fds[0]);
  pipe.write_end.reset(fds[1]);
  int capacity = -1;
  // Fails with EPERM above /proc/sys/fs/pipe-max-size without CAP_SYS_RESOURCE, or once
  // the user's pipe page quota is used up: try the normal size, then keep the default.
  // On success it returns the size granted (rounded up to a power-of-two number of pages).
  if (large_.size_bytes > 0 && large_alive_ < large_.max_alive) {
    capacity = ::fcntl(fds[1], F_SETPIPE_SZ, large_.size_bytes);
    if (capacity >= large_.size_bytes) {
      pipe.large = true;
      ++large_alive_;
    }
  }
  if (capacity < 0 && pipe_size_bytes_ > 0) {
    capacity = ::fcntl(fds[1], F_SETPIPE_SZ, pipe_size_bytes_);
  }
  if (capacity < 0) capacity = ::fcntl(fds[1], F_GETPIPE_SZ);
  // F_GETPIPE_SZ cannot fail on a pipe we just made; should it, assume one page, which
  // every pipe holds.
  if (capacity <= 0) capacity = 4096;
  pipe.capacity = capacity;
  // The kernel reports slots × page size; a pipe always has at least one slot.
  static const long page_size = ::sysconf(_SC_PAGESIZE);
  pipe.slots = page_size > 0 && capacity >= page_size ? static_cast<int>(capacity / page_size) : 1;
  ++created_;
  return pipe;
}

void PipePool::release(Pipe&& pipe) noexcept {
  Pipe taken(std::move(pipe));  // the caller's Pipe is empty whatever happens here
  if (!taken.valid()) return;
  if (pool_.size() < max_pooled_) {
    pool_.push_back(std::move(taken));
  } else {
    closing(taken);
  }
}

void PipePool::discard(Pipe&& pipe) noexcept {
  Pipe taken(std::move(pipe));  // closed when it goes out of scope
  if (taken.valid()) closing(taken);
}

void PipePool::closing(const Pipe& pipe) noexcept {
  if (pipe.large && large_alive_ > 0) --large_alive_;
}

}  // namespace arus
