// The filter data path: reads one direction's bytes into a FilterStage, lets the filter
// transform them, and writes the stage's output to the sink. Stateless functions over a
// Flow and its stage; no allocation beyond the stage's pooled buffers.
#pragma once

#include <cstddef>

#include "arus/relay/filter_stage.hpp"
#include "arus/relay/flow.hpp"
#include "arus/relay/pipe_pool.hpp"
#include "arus/relay/pump.hpp"

namespace arus {

// Moves bytes while both sides are ready, up to about `budget` bytes, reading only while
// the stage wants input (backpressure: output pending past its high-water mark stops
// the reads). Passes the FIN on when the stage has finished. Returns kHandBack once the
// filter handed the direction back and nothing is left buffered: switch it to
// splice_pump. kFilterClose: close the connection (the stage logged why).
// While the stage advises it (FilterStage::tee_next_read), reads also put their bytes in
// flow.pipe (from `pipes`, given back when empty; flow.pipe_bytes counts them), and
// output the filter left unchanged is spliced from there. kNoPipe: the pipe lost count
// of its bytes (cannot happen short of a kernel fault): close the connection.
PumpResult buffered_pump(Endpoint& source, Endpoint& sink, Flow& flow, FilterStage& stage,
                         PipePool& pipes, size_t budget) noexcept;

}  // namespace arus
