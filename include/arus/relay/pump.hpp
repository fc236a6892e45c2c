// What both pumps of a direction (splice_pump.hpp, buffered_pump.hpp) report, and the
// FIN hand-off they share. Plain types and one stateless function.
#pragma once

#include <cstddef>

#include "arus/relay/flow.hpp"

namespace arus {

enum class PumpStatus {
  kBlocked,      // waiting for the source to be readable or the sink writable (or done)
  kYield,        // moved `budget` bytes and could move more: call again next turn
  kSourceError,  // reading the source failed (errno in `error`), e.g. ECONNRESET
  kSinkError,    // writing the sink failed (errno in `error`), e.g. EPIPE
  kNoPipe,       // no pipe could be made (errno in `error`, e.g. EMFILE): close it
  kFilterClose,  // buffered path: the filter closed, failed or broke its contract
  kHandBack,     // buffered path: the filter handed the direction back to splice
};

struct PumpResult {
  PumpStatus status = PumpStatus::kBlocked;
  size_t moved = 0;  // bytes written to the sink in this call
  int error = 0;
};

// Passes the source's end on once everything before it is delivered: shutdown(SHUT_WR)
// of the sink, unless the connection's close will do it (fin_by_close) or the source
// reset (the close passes a reset on instead). Idempotent.
void pass_on_eof(Endpoint& sink, Flow& flow) noexcept;

}  // namespace arus
