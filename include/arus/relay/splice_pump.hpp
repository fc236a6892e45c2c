// The zero-copy data path: moves one direction's bytes source -> pipe -> sink with
// splice(2), never into user space. Stateless functions over a Flow; no allocation.
#pragma once

#include <cstddef>

#include "arus/relay/flow.hpp"
#include "arus/relay/pipe_pool.hpp"

namespace arus {

enum class PumpStatus {
  kBlocked,      // waiting for the source to be readable or the sink writable (or done)
  kYield,        // moved `budget` bytes and could move more: call again next turn
  kSourceError,  // reading the source failed (errno in `error`), e.g. ECONNRESET
  kSinkError,    // writing the sink failed (errno in `error`), e.g. EPIPE
  kNoPipe,       // no pipe could be made (descriptors exhausted): fall back or fail
  kFilterClose,  // buffered path: the filter closed, failed or broke its contract
  kHandBack,     // buffered path: the filter handed the direction back to splice
};

struct PumpResult {
  PumpStatus status = PumpStatus::kBlocked;
  size_t moved = 0;  // bytes written to the sink in this call
  int error = 0;
};

// Moves bytes while both sides are ready, up to about `budget` bytes. Reads from the
// source only into free pipe space, so at most one pipe of bytes is ever buffered
// (backpressure). Passes the source's FIN on once the pipe is empty, and returns the
// pipe to `pipes` whenever it is empty and no bytes are waiting.
PumpResult splice_pump(Endpoint& source, Endpoint& sink, Flow& flow, PipePool& pipes,
                       size_t budget) noexcept;

// Passes a FIN on once everything before it is delivered; used by both pumps.
// Idempotent.
void pass_on_eof(Endpoint& sink, Flow& flow) noexcept;

}  // namespace arus
