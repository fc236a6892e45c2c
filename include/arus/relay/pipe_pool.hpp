// PipePool: recycles the pipes the splice path moves bytes through, so the steady state
// makes no pipe2/fcntl calls. Not thread-safe: one pool per worker, used on its thread.
#pragma once

#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "arus/core/unique_fd.hpp"

namespace arus {

// splice(2) flags of the relay: move pages where the kernel can, never block.
constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

// One non-blocking, close-on-exec pipe. Movable, not copyable; closed when destroyed.
struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
  int capacity = 0;  // bytes it holds when full, as the kernel reports (F_GETPIPE_SZ)
  int slots = 0;     // buffers it holds when full (capacity / page size); one may hold 1 byte
  bool large = false;  // made at PipePool's large size (counted against its large cap)

  bool valid() const noexcept { return read_end.valid() && write_end.valid(); }
};

// A few pipes larger than the rest: more slots let a short read of a small message prove
// the socket drained (splice_drain.hpp). Each slot counts as a page against the user's
// pipe quota (/proc/sys/fs/pipe-user-pages-soft, 16384 by default), so they are capped.
struct LargePipes {
  int size_bytes = 0;    // <= 0: none
  size_t max_alive = 0;  // at most this many alive at once (pooled or in use)
};

class PipePool {
 public:
  // How a new pipe is made: pipe2(2)'s signature and errno. A test passes one that
  // fails, to see a connection meet EMFILE or ENFILE without exhausting descriptors.
  using MakePipe = int (*)(int fds[2], int flags);

  // Keeps at most `max_pooled` idle pipes; new pipes are resized to `large.size_bytes`
  // while fewer than `large.max_alive` such pipes are alive, else to `pipe_size_bytes`
  // (<= 0: keep the kernel's default, 64 KiB), and made by `make_pipe` (null: pipe2).
  // Allocates the pool's storage here.
  PipePool(size_t max_pooled, int pipe_size_bytes, MakePipe make_pipe = nullptr,
           LargePipes large = {});
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
  size_t large_alive() const noexcept { return large_alive_; }

 private:
  void closing(const Pipe& pipe) noexcept;  // a pipe of ours is about to be closed

  std::vector<Pipe> pool_;  // capacity reserved for max_pooled_: push_back never allocates
  size_t max_pooled_;
  int pipe_size_bytes_;
  MakePipe make_pipe_;
  LargePipes large_;
  size_t large_alive_ = 0;  // large pipes made and not yet closed through this pool
  uint64_t created_ = 0;
  uint64_t reused_ = 0;
};

}  // namespace arus
