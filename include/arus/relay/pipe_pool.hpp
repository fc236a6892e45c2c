// PipePool: recycles the pipes the splice path moves bytes through, so the steady state
// makes no pipe2/fcntl calls. Not thread-safe: one pool per worker, used on its thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "arus/core/unique_fd.hpp"

namespace arus {

// One non-blocking, close-on-exec pipe. Movable, not copyable; closed when destroyed.
struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
  int capacity = 0;  // bytes it holds when full, as the kernel reports (F_GETPIPE_SZ)

  bool valid() const noexcept { return read_end.valid() && write_end.valid(); }
};

class PipePool {
 public:
  // How a new pipe is made: pipe2(2)'s signature and errno. A test passes one that
  // fails, to see a connection meet EMFILE or ENFILE without exhausting descriptors.
  using MakePipe = int (*)(int fds[2], int flags);

  // Keeps at most `max_pooled` idle pipes; new pipes are resized to `pipe_size_bytes`
  // (<= 0: keep the kernel's default, 64 KiB) and made by `make_pipe` (null: pipe2).
  // Allocates the pool's storage here.
  PipePool(size_t max_pooled, int pipe_size_bytes, MakePipe make_pipe = nullptr);
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  // An empty pipe: a pooled one, or a new one. Returns an invalid Pipe, errno telling
  // why (EMFILE, ENFILE), when no pipe can be made: the caller closes the connection.
  // Never allocates.
  Pipe acquire() noexcept;

  // Gives back a pipe the caller knows to be EMPTY (it counts the bytes it spliced in
  // and out): pooled while fewer than max_pooled are, else closed. Not checked, since
  // that would cost a syscall per release; a pipe that may hold bytes goes to discard(),
  // or the next connection would receive them. Invalid pipes are ignored. Never allocates.
  void release(Pipe&& pipe) noexcept;

  // Closes a pipe that may still hold bytes (a connection that ended mid-transfer).
  void discard(Pipe&& pipe) noexcept;

  size_t pooled() const noexcept { return pool_.size(); }
  uint64_t created() const noexcept { return created_; }  // pipe2 calls that succeeded
  uint64_t reused() const noexcept { return reused_; }    // acquires served from the pool

 private:
  std::vector<Pipe> pool_;  // capacity reserved for max_pooled_: push_back never allocates
  size_t max_pooled_;
  int pipe_size_bytes_;
  MakePipe make_pipe_;
  uint64_t created_ = 0;
  uint64_t reused_ = 0;
};

}  // namespace arus
