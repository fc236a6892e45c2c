// FilterStage: one direction of the buffered (filter) data path, without syscalls: an
// input buffer the reader fills, the filter's transform() between, an output buffer the
// writer drains. Owned by one connection on one worker thread; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "arus/filter.h"
#include "arus/plugin/filter_session.hpp"
#include "arus/relay/buffer_pool.hpp"

namespace arus {

// The worker's buffers for every filtered connection it runs. A stage borrows a block
// only while it holds bytes, so idle connections hold none. Must outlive the stages.
struct FilterBuffers {
  static constexpr size_t kInputBytes = 64 * 1024;   // > ARUS_FILTER_MAX_HOLD_BACK
  static constexpr size_t kOutputBytes = 128 * 1024;  // room for a filter to grow its output
  static constexpr size_t kMaxCached = 64;           // idle blocks kept per pool

  explicit FilterBuffers(size_t input_bytes = kInputBytes, size_t output_bytes = kOutputBytes,
                         size_t max_cached = kMaxCached)
      : input(input_bytes, max_cached),
        output(output_bytes, max_cached),
        output_high_water(output_bytes / 2) {}

  BufferPool input;
  BufferPool output;
  size_t output_high_water;  // wants_input() is false while this much output is pending
};

enum class StageStatus : uint8_t {
  kOk,        // carry on: write pending_output(), read while wants_input()
  kHandBack,  // the filter handed this direction back (reported once, by that call)
  kClose,     // the filter asked to close (CLOSE) or failed (ERROR): close the connection
  kBroken,    // the filter broke the buffer contract, or no buffer memory: close it
};

struct StageResult {
  StageStatus status = StageStatus::kOk;
  const char* reason = "";  // static text, for kClose and kBroken; already logged
  bool closes() const noexcept {
    return status == StageStatus::kClose || status == StageStatus::kBroken;
  }
};

class FilterStage {
 public:
  // `direction` is ARUS_CLIENT_TO_BACKEND or ARUS_BACKEND_TO_CLIENT. `session` and
  // `buffers` are borrowed and must outlive the stage.
  FilterStage(FilterSession& session, int direction, FilterBuffers& buffers) noexcept;
  FilterStage(const FilterStage&) = delete;
  FilterStage& operator=(const FilterStage&) = delete;

  // Free space at the end of the input buffer, for the reader's next read(); empty
  // after EOF, after a close, or when no buffer memory could be had (process() then
  // reports kBroken). Follow every read with commit_input(n), n = 0 when it read
  // nothing, so an idle stage gives its buffer back.
  std::span<uint8_t> writable_input() noexcept;
  void commit_input(size_t n) noexcept;
  // The source sent FIN: no more input. process() lets the filter flush its end.
  void commit_eof() noexcept;

  // Runs the filter over the buffered input for as long as it makes progress and the
  // output has room. Cheap when nothing changed since the last call; call it after
  // commit_input(), commit_eof() and consume_output(). A kClose or kBroken result is
  // final (every later call returns it again) and has been logged with the filter,
  // route, client, direction and reason.
  StageResult process() noexcept;

  // Bytes waiting for the sink: the filter's output, then, after a hand-back, the
  // unfiltered input. May be one piece of several: write, consume_output(n), repeat
  // until empty or the sink would block.
  std::span<const uint8_t> pending_output() const noexcept;
  void consume_output(size_t n) noexcept;

  // Backpressure: read from the source only while this is true (input has room and
  // less than output_high_water bytes of output wait for the sink).
  bool wants_input() const noexcept;

  bool handed_back() const noexcept { return handed_back_; }
  // Handed back and nothing buffered: switch this direction to splice now. (If the
  // stage keeps being fed instead, it passes bytes through unchanged.) When finished()
  // is true as well, the source already ended: shut the sink down instead.
  bool ready_for_splice() const noexcept { return handed_back_ && !closed_ && buffered() == 0; }
  // The source ended, the filter flushed its end and all output was consumed: pass
  // the FIN on (shutdown(sink, SHUT_WR)).
  bool finished() const noexcept;
  bool closed() const noexcept { return closed_; }

  size_t pending_bytes() const noexcept;  // what pending_output() would yield in total
  size_t buffered() const noexcept { return input_len() + output_len(); }

 private:
  size_t input_len() const noexcept { return in_end_ - in_begin_; }
  size_t output_len() const noexcept { return out_end_ - out_begin_; }
  void compact_output() noexcept;
  void release_idle() noexcept;
  // Closes the stage for good and logs why; log_level is an ARUS_LOG_* value.
  StageResult fail(StageStatus status, int log_level, const char* reason, size_t reported = 0,
                   size_t allowed = 0) noexcept;

  FilterSession& session_;
  FilterBuffers& buffers_;
  const int direction_;
  PooledBuffer in_;  // [in_begin_, in_end_): not yet consumed by the filter
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  PooledBuffer out_;  // [out_begin_, out_end_): produced, not yet written to the sink
  size_t out_begin_ = 0;
  size_t out_end_ = 0;
  bool input_eof_ = false;
  bool dirty_ = false;            // something changed since the filter last stalled
  bool call_again_ = false;       // the last call filled the output: it may have more
  bool filter_finished_ = false;  // the EOF call completed
  bool handed_back_ = false;
  bool no_memory_ = false;
  bool closed_ = false;
  StageResult result_;  // the final result once closed_
};

}  // namespace arus
