// Buffered pump for one filtered direction of a connection.
#include "arus/relay/buffered_pump.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace arus {
namespace {

enum class WriteOutcome { kDrainedOrBlocked, kError };

// Writes the stage's pending output until it is empty or the sink would block.
WriteOutcome write_pending(Endpoint& sink, FilterStage& stage, PumpResult& result) noexcept {
  while (sink.writable) {
    std::span<const uint8_t> out = stage.pending_output();
    if (out.empty()) break;
    ssize_t n = ::send(sink.fd.get(), out.data(), out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      stage.consume_output(static_cast<size_t>(n));
      result.moved += static_cast<size_t>(n);
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

}  // namespace

PumpResult buffered_pump(Endpoint& source, Endpoint& sink, Flow& flow, FilterStage& stage,
                         size_t budget) noexcept {
  PumpResult result;
  for (;;) {
    if (write_pending(sink, stage, result) == WriteOutcome::kError) return result;
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
