// Plain per-connection state of the relay: one Endpoint per socket, one Flow per
// direction. Owned by a Connection; single-threaded (the connection's worker).
#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "arus/core/unique_fd.hpp"
#include "arus/relay/pipe_pool.hpp"

namespace arus {

// One socket of a connection and its readiness, tracked in user space because the
// socket is registered edge-triggered: a flag is set by an epoll edge and cleared only
// when a syscall reports EAGAIN.
struct Endpoint {
  UniqueFd fd;
  bool readable = false;
  bool writable = false;
  bool urgent = false;  // EPOLLPRI: TCP urgent data waits at a mark (urgent_mark.hpp)
  // EPOLLRDHUP/HUP/ERR seen (or a write failed): an end waits behind the data, so reads
  // go on to EOF or EAGAIN and a short read proves nothing (splice_drain.hpp).
  bool hangup = false;
  // EPOLLRDHUP seen: the peer's FIN is queued behind the data (splice_drain.hpp).
  bool fin_queued = false;
  // EPOLLERR seen, or a write to it failed: its end may be a reset, never proved a FIN.
  bool failed = false;
};

// Records one epoll report for `endpoint`. Errors and hang-ups count as ready: the next
// syscall reports what happened.
inline void mark_ready(Endpoint& endpoint, uint32_t events) noexcept {
  if (events & (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) endpoint.readable = true;
  if (events & EPOLLPRI) endpoint.urgent = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) endpoint.hangup = true;
  if (events & EPOLLRDHUP) endpoint.fin_queued = true;
  if (events & EPOLLERR) endpoint.failed = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) endpoint.writable = true;
}

// One direction of a connection: bytes from a source endpoint to a sink endpoint.
struct Flow {
  Pipe pipe;               // held only while bytes are in flight; idle flows hold none
  size_t pipe_bytes = 0;   // bytes in the pipe not yet written to the sink
  uint64_t bytes = 0;      // bytes read from the source (what the access log and stats count)
  bool source_eof = false; // the source ended: it sent FIN, or failed (source_reset)
  // The source reset (or failed): what it sent before is still delivered, but its end
  // is passed on as a reset by the connection's close, never as a FIN.
  bool source_reset = false;
  bool sink_failed = false; // writing the sink failed: nothing more can be delivered
  bool sink_shut = false;   // the source's end is passed on (or left to the close)
  // The other direction is already done, so the connection closes as soon as this one
  // is: close() sends the sink its FIN and the shutdown() call is saved.
  bool fin_by_close = false;

  // Everything the source sent has reached the sink, and so has its FIN (or, after a
  // reset, the connection's close will pass the reset on).
  bool done() const noexcept { return sink_shut; }
  // This direction still has work: bytes to read or deliver, or an end to pass on.
  bool active() const noexcept { return !sink_shut && !sink_failed; }
  // Hands the pipe back to the pool once it holds nothing: idle flows hold no pipe.
  void release_pipe_if_empty(PipePool& pipes) noexcept {
    if (pipe_bytes == 0 && pipe.valid()) pipes.release(std::move(pipe));
  }
};

}  // namespace arus
