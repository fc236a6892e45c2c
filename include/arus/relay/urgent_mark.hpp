// TCP urgent data on the splice path. splice(2) never reads past an urgent mark (the
// kernel's tcp_read_sock stops in front of the urgent byte) and then reports EAGAIN, or 0
// once a FIN is queued, for ever after: without help a client that sends MSG_OOB would
// stall its connection, or lose everything after the mark. recv(2) can step over it.
// Connection sockets are SO_OOBINLINE (see net/socket), so the urgent byte is read in
// line and passed on in order.
#pragma once

#include "arus/relay/flow.hpp"
#include "arus/relay/pipe_pool.hpp"
#include "arus/relay/pump.hpp"

namespace arus {

// Whether the socket's next byte is an urgent one (SIOCATMARK): splice reads nothing more.
bool at_urgent_mark(int fd) noexcept;

enum class UrgentStep {
  kWaiting,  // the urgent byte has not arrived yet: wait for the source
  kCrossed,  // the urgent byte was passed on; splicing can go on
  kFailed,   // result.status/error say which side failed
};

// Steps over the urgent mark the source is stopped at (at_urgent_mark). Call only with
// an empty pipe (every byte before the mark delivered). The byte goes to the sink as
// urgent data (MSG_OOB) when the sink takes it at once, else in line through the pipe, so
// the order holds and nothing is lost either way.
UrgentStep cross_urgent_mark(Endpoint& source, Endpoint& sink, Flow& flow, PipePool& pipes,
                             PumpResult& result) noexcept;

}  // namespace arus
