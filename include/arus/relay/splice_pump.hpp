// The zero-copy data path: moves one direction's bytes source -> pipe -> sink with
// splice(2), never into user space. Stateless functions over a Flow; no allocation.
#pragma once

#include <cstddef>

#include "arus/relay/flow.hpp"
#include "arus/relay/pipe_pool.hpp"
#include "arus/relay/pump.hpp"

namespace arus {

// Moves bytes while both sides are ready, up to about `budget` bytes. Reads from the
// source only into free pipe space, so at most one pipe of bytes is ever buffered
// (backpressure). Passes the source's FIN on once the pipe is empty, and returns the
// pipe to `pipes` whenever it is empty and no bytes are waiting.
PumpResult splice_pump(Endpoint& source, Endpoint& sink, Flow& flow, PipePool& pipes,
                       size_t budget) noexcept;

}  // namespace arus
