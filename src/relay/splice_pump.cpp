// splice(2) pump for one direction of a connection.
#include "arus/relay/splice_pump.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

#include "arus/relay/splice_drain.hpp"
#include "arus/relay/urgent_mark.hpp"

namespace arus {

PumpResult splice_pump(Endpoint& source, Endpoint& sink, Flow& flow, PipePool& pipes,
                       size_t budget) noexcept {
  PumpResult result;
  for (;;) {
    // 1. Deliver what the pipe holds.
    if (flow.pipe_bytes > 0) {
      if (!sink.writable) break;  // backpressure: EPOLLOUT on the sink resumes us
      ssize_t n = splice(flow.pipe.read_end.get(), nullptr, sink.fd.get(), nullptr,
                         flow.pipe_bytes, kSpliceFlags);
      if (n > 0) {
        flow.pipe_bytes -= static_cast<size_t>(n);
        result.moved += static_cast<size_t>(n);
      } else if (n < 0 && errno == EAGAIN) {
        sink.writable = false;
        break;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        result.status = PumpStatus::kSinkError;
        result.error = n < 0 ? errno : EPIPE;
        return result;
      }
    }

    // 2. Pipe empty: pass a FIN on, or give the pipe back while the source is quiet.
    if (flow.pipe_bytes == 0) {
      if (flow.source_eof) {
        flow.release_pipe_if_empty(pipes);
        pass_on_eof(sink, flow);
        break;
      }
      if (!source.readable) {
        flow.release_pipe_if_empty(pipes);
        break;
      }
    }
    if (flow.source_eof || !source.readable) {
      // A proven-drained read leaves bytes in the pipe: deliver them while the sink takes them.
      if (flow.pipe_bytes > 0 && sink.writable) continue;
      break;
    }
    if (result.moved >= budget) {
      result.status = PumpStatus::kYield;
      return result;
    }

    // 3. Read from the source into the pipe's free space.
    if (!flow.pipe.valid()) {
      flow.pipe = pipes.acquire();
      if (!flow.pipe.valid()) {
        result.status = PumpStatus::kNoPipe;
        result.error = errno;  // pipe2's
        return result;
      }
    }
    size_t room = static_cast<size_t>(flow.pipe.capacity) - flow.pipe_bytes;
    if (room == 0) break;  // full and the sink is blocked (step 1 broke out otherwise)
    ssize_t n = splice(source.fd.get(), nullptr, flow.pipe.write_end.get(), nullptr, room,
                       kSpliceFlags);
    int read_error = n < 0 ? errno : 0;
    // splice cannot read past a TCP urgent mark: it reports EAGAIN there (EPOLLPRI said
    // urgent data came), or 0 when a FIN waits behind the mark (checked at every EOF, as
    // the FIN may have come before EPOLLPRI was seen). See urgent_mark.hpp.
    if (n == 0 || (read_error == EAGAIN && source.urgent)) {
      if (!at_urgent_mark(source.fd.get())) {
        // Stale, or never: the EAGAIN or EOF is real. Not so an EAGAIN with bytes in the
        // pipe: the pipe may be full by its slots with the mark still ahead.
        if (n == 0 || flow.pipe_bytes == 0) source.urgent = false;
      } else {
        if (!sink.writable) break;          // the urgent byte waits for a sink to take it
        if (flow.pipe_bytes > 0) continue;  // every byte before the mark goes first
        UrgentStep step = cross_urgent_mark(source, sink, flow, pipes, result);
        if (step == UrgentStep::kFailed) return result;
        if (step == UrgentStep::kCrossed) continue;
        n = -1;  // kWaiting: as if the socket were drained
        read_error = EAGAIN;
      }
    }
    if (n > 0) {
      SpliceRead read{.got = static_cast<size_t>(n),
                      .asked = room,
                      .pipe_bytes_before = flow.pipe_bytes,
                      .pipe_slots = static_cast<size_t>(flow.pipe.slots),
                      .urgent = source.urgent,
                      .hangup = source.hangup,
                      .fin_queued = source.fin_queued && !source.failed};
      flow.pipe_bytes += static_cast<size_t>(n);
      flow.bytes += static_cast<uint64_t>(n);
      if (proves_drained(read)) {
        // Drained for sure: deliver and stop, saving the read that would return EAGAIN.
        source.readable = false;
      } else if (proves_end(read) && !at_urgent_mark(source.fd.get())) {
        // The read consumed the FIN: the end, saving the read that would return 0.
        flow.source_eof = true;
      }
    } else if (n == 0) {
      flow.source_eof = true;
    } else if (read_error == EAGAIN) {
      // EAGAIN means either "socket empty" or "pipe has no free slot" (a pipe counts
      // buffers, not bytes, so it can be full below its byte capacity). Only an empty
      // pipe makes it unambiguous. A short read proves it drained without this call
      // when the pipe cannot have filled (proves_drained above).
      if (flow.pipe_bytes == 0) {
        source.readable = false;
        flow.release_pipe_if_empty(pipes);
        break;
      }
      if (!sink.writable) break;
    } else if (read_error != EINTR) {
      result.status = PumpStatus::kSourceError;
      result.error = read_error;
      return result;
    }
  }
  return result;
}

}  // namespace arus
