// PipePool: per-worker pipe recycling for splice(2). Not thread-safe.
#include "arus/relay/pipe_pool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace arus {

PipePool::PipePool(size_t max_pooled, int pipe_size_bytes, MakePipe make_pipe)
    : max_pooled_(max_pooled),
      pipe_size_bytes_(pipe_size_bytes),
      make_pipe_(make_pipe != nullptr ? make_pipe : ::pipe2) {
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
  if (pipe_size_bytes_ > 0) {
    // Fails with EPERM above /proc/sys/fs/pipe-max-size without CAP_SYS_RESOURCE, or
    // once the user's pipe page quota is used up: keep the default size then. On success
    // it returns the size granted (rounded up to a power-of-two number of pages).
    capacity = ::fcntl(fds[1], F_SETPIPE_SZ, pipe_size_bytes_);
  }
  if (capacity < 0) capacity = ::fcntl(fds[1], F_GETPIPE_SZ);
  // F_GETPIPE_SZ cannot fail on a pipe we just made; should it, assume one page, which
  // every pipe holds.
  if (capacity <= 0) capacity = 4096;
  pipe.capacity = capacity;
  ++created_;
  return pipe;
}

void PipePool::release(Pipe&& pipe) noexcept {
  Pipe taken(std::move(pipe));  // the caller's Pipe is empty whatever happens here
  if (!taken.valid()) return;
  if (pool_.size() < max_pooled_) pool_.push_back(std::move(taken));
}

void PipePool::discard(Pipe&& pipe) noexcept {
  Pipe taken(std::move(pipe));  // closed when it goes out of scope
}

}  // namespace arus
