// What a short splice(2) from a TCP socket into a pipe proves, so the splice path can stop
// reading without a call that returns EAGAIN, or 0 at the end. Pure functions.
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
  // EPOLLRDHUP seen and never EPOLLERR (nor a failed write): the peer's FIN is queued
  // behind the data. The kernel sets RCV_SHUTDOWN (which EPOLLRDHUP reports) only on an
  // in-order FIN, so every byte before it is in the receive queue and nothing comes after.
  bool fin_queued = false;
};

// A pipe counts buffers, not bytes, and every buffer holds at least one byte, so the pipe
// uses at most as many slots as it holds bytes. If that bound stays below its slot count
// after the read, the pipe never filled.
constexpr bool cannot_have_filled_pipe(const SpliceRead& read) noexcept {
  return read.got > 0 && read.got < read.asked &&
         read.pipe_bytes_before + read.got < read.pipe_slots;
}

// With a non-blocking socket tcp_splice_read makes one pass of tcp_read_sock over the
// receive queue, which stops early only when it asked for no more, when the pipe is full,
// at an urgent mark, or after a FIN. A short read into a pipe that cannot have filled,
// with no urgent mark and no end behind the data, ran out of data. Bytes that arrive
// during or after the read raise a new epoll edge, so stopping here never strands them.
constexpr bool proves_drained(const SpliceRead& read) noexcept {
  return cannot_have_filled_pipe(read) && !read.urgent && !read.hangup;
}

// The same pass with the FIN queued behind the data: it walked the queue to the FIN and
// consumed it, unless it stopped at an urgent mark. EPOLLPRI rules a valid mark out;
// the caller rules out the rest with SIOCATMARK (urgent_mark.hpp), which takes no socket
// lock, instead of a splice that would return 0. No reset hides here: RST sets sk_err,
// which EPOLLERR reports, and a FIN read before a later RST is a FIN for splice as well
// (tcp_splice_read reports the end before the error).
constexpr bool proves_end(const SpliceRead& read) noexcept {
  return cannot_have_filled_pipe(read) && !read.urgent && read.fin_queued;
}

}  // namespace arus
