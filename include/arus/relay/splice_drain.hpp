// When a short splice(2) from a TCP socket into a pipe proves the socket drained, so the
// splice path can stop reading without a call that returns EAGAIN. A pure function.
#pragma once

#include <cstddef>

namespace arus {

// One splice from a TCP socket into a pipe and what was known before it.
struct SpliceRead {
  size_t got = 0;                // bytes it moved (> 0: a read that moved nothing is no proof)
  size_t asked = 0;              // the length passed to splice
  size_t pipe_bytes_before = 0;  // bytes the pipe held before it
  size_t pipe_slots = 0;         // buffers the pipe holds when full (F_GETPIPE_SZ / page size)
  bool urgent = false;           // EPOLLPRI seen: the read may have stopped at an urgent mark
  bool hangup = false;           // EPOLLRDHUP/HUP/ERR seen: a FIN or error may wait behind it
};

// A pipe counts buffers, not bytes, and every buffer holds at least one byte, so the pipe
// uses at most as many slots as it holds bytes. If that bound stays below its slot count
// after the read, the pipe never filled; with a non-blocking socket tcp_splice_read makes
// one pass of tcp_read_sock over the receive queue, which then stops early only when it
// asked for no more, at an urgent mark, or after a FIN. Otherwise it ran out of data.
// Bytes that arrive during or after the read raise a new epoll edge, so stopping here
// never strands them.
constexpr bool proves_drained(const SpliceRead& read) noexcept {
  return read.got > 0 && read.got < read.asked && !read.urgent && !read.hangup &&
         read.pipe_bytes_before + read.got < read.pipe_slots;
}

}  // namespace arus
