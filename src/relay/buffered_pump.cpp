// Buffered pump for one filtered direction of a connection. Output the filter left
// unchanged moves by splice from the direction's pipe (flow.pipe), which the reader
// fills with tee: socket -> copy pipe (splice), copy pipe -> flow.pipe (tee, the same
// pages), copy pipe -> input buffer (read). The copy pipe is empty again after every
// read, so it is borrowed from the pool for that read only.
#include "arus/relay/buffered_pump.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "arus/relay/splice_drain.hpp"

namespace arus {
namespace {

// /dev/null, where dropped pipe bytes are spliced without a copy: one descriptor for the
// process, opened when first needed. -1 while it cannot be opened (EMFILE): drops are
// then read away instead, and it is tried again next time.
int null_sink() noexcept {
  static std::atomic<int> fd{-1};
  int current = fd.load(std::memory_order_acquire);
  if (current >= 0) return current;
  int opened = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (opened < 0) return -1;
  if (!fd.compare_exchange_strong(current, opened, std::memory_order_acq_rel)) {
    ::close(opened);  // another worker was first
    return current;
  }
  return opened;
}

// Discards the first `length` bytes of the flow's pipe (length <= flow.pipe_bytes).
// Returns the bytes discarded, or -1 with errno.
ssize_t drop_from_pipe(Flow& flow, size_t length) noexcept {
  const int null_fd = null_sink();
  if (null_fd >= 0) {
    ssize_t n = splice(flow.pipe.read_end.get(), nullptr, null_fd, nullptr, length, kSpliceFlags);
    if (n > 0 || (n < 0 && errno != EINVAL)) return n;
  }
  uint8_t scratch[4096];  // no /dev/null (or no splice to it): read the bytes away
  const size_t chunk = length < sizeof scratch ? length : sizeof scratch;
  return ::read(flow.pipe.read_end.get(), scratch, chunk);
}

enum class WriteOutcome { kDrainedOrBlocked, kError };

// Writes the stage's pending output until it is empty or the sink would block; bytes to
// drop from the pipe are dropped whether or not the sink takes anything.
WriteOutcome write_pending(Endpoint& sink, Flow& flow, FilterStage& stage, PipePool& pipes,
                           PumpResult& result) noexcept {
  using Kind = OutputPiece::Kind;
  for (;;) {
    OutputPiece piece = stage.next_output();
    if (piece.kind == Kind::kNone) break;
    if (piece.kind == Kind::kDrop) {
      ssize_t n = drop_from_pipe(flow, piece.length);
      if (n > 0) {
        stage.consume_output(static_cast<size_t>(n));
        flow.pipe_bytes -= static_cast<size_t>(n);
        flow.release_pipe_if_empty(pipes);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      // The pipe lost bytes it was counted to hold: nothing after can be trusted.
      result.status = PumpStatus::kNoPipe;
      result.error = n < 0 ? errno : EIO;
      return WriteOutcome::kError;
    }
    if (!sink.writable) break;
    ssize_t n;
    if (piece.kind == Kind::kBytes) {
      n = ::send(sink.fd.get(), piece.bytes.data(), piece.bytes.size(), MSG_NOSIGNAL);
    } else {
      n = splice(flow.pipe.read_end.get(), nullptr, sink.fd.get(), nullptr, piece.length,
                 kSpliceFlags);
    }
    if (n > 0) {
      stage.consume_output(static_cast<size_t>(n));
      result.moved += static_cast<size_t>(n);
      if (piece.kind == Kind::kPipe) {
        flow.pipe_bytes -= static_cast<size_t>(n);
        flow.release_pipe_if_empty(pipes);
      }
    } else if (n < 0 && errno == EAGAIN) {
      sink.writable = false;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      result.status = PumpStatus::kSinkError;
      result.error = n < 0 ? errno : EPIPE;
      return WriteOutcome::kError;
    }
  }
  return WriteOutcome::kDrainedOrBlocked;
}

enum class TeeRead {
  kRead,     // *got bytes in `room`, the first *piped of them appended to flow.pipe
  kDrained,  // EAGAIN: the source has nothing now
  kPlain,    // take this read with read(): no pipe to be had, an urgent mark, or an end
  kFailed,   // result.status/error say why
};

// One read through the pipes. A plain read() stays right for every case splice cannot
// decide: at an urgent mark splice stops (EAGAIN, or 0 with a FIN behind it) where
// read() on an SO_OOBINLINE socket goes on, and a 0 is confirmed by read() (one call
// per direction's end).
TeeRead tee_read(Endpoint& source, Flow& flow, PipePool& pipes, std::span<uint8_t> room,
                 size_t* got, size_t* piped, PumpResult& result) noexcept {
  Pipe copy = pipes.acquire();
  if (!copy.valid()) return TeeRead::kPlain;
  if (!flow.pipe.valid()) {
    flow.pipe = pipes.acquire();
    if (!flow.pipe.valid()) {
      pipes.release(std::move(copy));
      return TeeRead::kPlain;
    }
  }
  ssize_t n;
  do {
    n = splice(source.fd.get(), nullptr, copy.write_end.get(), nullptr, room.size(), kSpliceFlags);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    const int error = n < 0 ? errno : 0;
    pipes.release(std::move(copy));  // nothing went in
    flow.release_pipe_if_empty(pipes);
    if (n == 0 || (error == EAGAIN && source.urgent)) return TeeRead::kPlain;
    if (error == EAGAIN) {
      // The copy pipe was empty, so EAGAIN cannot mean "pipe full": the socket is dry.
      source.readable = false;
      return TeeRead::kDrained;
    }
    result.status = PumpStatus::kSourceError;
    result.error = error;
    return TeeRead::kFailed;
  }
  const size_t length = static_cast<size_t>(n);
  // The same pages into the flow's pipe, behind what it holds; as many as it has slots
  // for (the rest of this read is sent from the output buffer as usual).
  ssize_t teed = tee(copy.read_end.get(), flow.pipe.write_end.get(), length, SPLICE_F_NONBLOCK);
  if (teed < 0) teed = 0;
  for (size_t done = 0; done < length;) {
    ssize_t r = ::read(copy.read_end.get(), room.data() + done, length - done);
    if (r > 0) {
      done += static_cast<size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      // Cannot happen (the bytes are in the pipe); if it did, they are lost: close.
      result.status = PumpStatus::kNoPipe;
      result.error = r < 0 ? errno : EIO;
      pipes.discard(std::move(copy));
      flow.pipe_bytes += static_cast<size_t>(teed);
      return TeeRead::kFailed;
    }
  }
  const SpliceRead read{.got = length,
                        .asked = room.size(),
                        .pipe_bytes_before = 0,
                        .pipe_slots = static_cast<size_t>(copy.slots),
                        .urgent = source.urgent,
                        .hangup = source.hangup};
  pipes.release(std::move(copy));
  flow.pipe_bytes += static_cast<size_t>(teed);
  flow.release_pipe_if_empty(pipes);
  // A short read into an empty pipe proves the socket drained: no read to see EAGAIN.
  if (proves_drained(read)) source.readable = false;
  *got = length;
  *piped = static_cast<size_t>(teed);
  return TeeRead::kRead;
}

}  // namespace

PumpResult buffered_pump(Endpoint& source, Endpoint& sink, Flow& flow, FilterStage& stage,
                         PipePool& pipes, size_t budget) noexcept {
  PumpResult result;
  for (;;) {
    if (write_pending(sink, flow, stage, pipes, result) == WriteOutcome::kError) return result;
    // Room was made or input arrived: the filter may go on (it also flushes at EOF).
    if (stage.process().closes()) {
      result.status = PumpStatus::kFilterClose;
      return result;
    }
    if (stage.pending_bytes() > 0 && sink.writable) {
      if (result.moved >= budget) {
        result.status = PumpStatus::kYield;
        return result;
      }
      continue;  // the filter produced more: write it before reading
    }
    // After a reset of the source the filter gets no EOF call (the stream did not end,
    // it broke off): once its output for what arrived is delivered, the flow is done.
    if (stage.finished() || (flow.source_reset && flow.source_eof && stage.pending_bytes() == 0)) {
      pass_on_eof(sink, flow);
      break;
    }
    if (stage.ready_for_splice()) {
      result.status = PumpStatus::kHandBack;
      return result;
    }
    if (flow.source_eof || !source.readable || !stage.wants_input()) break;
    if (result.moved >= budget) {
      result.status = PumpStatus::kYield;
      return result;
    }

    std::span<uint8_t> room = stage.writable_input();
    if (room.empty()) {  // no buffer memory: the stage reports itself broken
      stage.commit_input(0);
      if (stage.process().closes()) result.status = PumpStatus::kFilterClose;
      return result;
    }
    if (stage.tee_next_read()) {
      size_t got = 0;
      size_t piped = 0;
      TeeRead tee = tee_read(source, flow, pipes, room, &got, &piped, result);
      if (tee == TeeRead::kRead) {
        stage.commit_input(got, piped);
        flow.bytes += got;
        continue;
      }
      if (tee == TeeRead::kDrained) {
        stage.commit_input(0);
        continue;
      }
      if (tee == TeeRead::kFailed) {
        stage.commit_input(0);
        return result;
      }
    }
    ssize_t n = ::read(source.fd.get(), room.data(), room.size());
    if (n > 0) {
      stage.commit_input(static_cast<size_t>(n));
      flow.bytes += static_cast<uint64_t>(n);
    } else if (n == 0) {
      stage.commit_input(0);
      if (!flow.source_reset) stage.commit_eof();
      flow.source_eof = true;
    } else if (errno == EAGAIN) {
      stage.commit_input(0);
      source.readable = false;
    } else if (errno == EINTR) {
      stage.commit_input(0);
    } else {
      stage.commit_input(0);
      result.status = PumpStatus::kSourceError;
      result.error = errno;
      return result;
    }
  }
  return result;
}

}  // namespace arus
