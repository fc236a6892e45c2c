// FilterStage: one direction of the buffered (filter) data path, without syscalls: an
// input buffer the reader fills, the filter's transform() between, an output buffer the
// writer drains. Owned by one connection on one worker thread; not thread-safe.
//
// Unchanged output by splice: the reader may also put the bytes it reads, in order, into
// the direction's pipe (tee, see buffered_pump.cpp). Where a transform() call's output
// is byte for byte the input it consumed, the stage then queues "splice that many bytes
// from the pipe" instead of its output: the sink gets the pipe's pages, no copy back into
// the kernel. Where the output differs, those bytes are queued to be dropped from the
// pipe and the output is sent. The stage only keeps the books (which bytes are where);
// the pump makes the calls.
//
// Forwarded input: a filter that returns ARUS_FILTER_FORWARD (filter.h) has the input it
// consumed sent as it is, with no output written and nothing compared: its piped part
// from the pipe, the rest straight from the input buffer, where those bytes then stay
// until the sink took them.
#pragma once

#include <array>
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
  // A read shorter than this costs less to copy than the three calls more that passing
  // it through the pipe takes (splice, tee and read in, splice out): the read after it
  // is a plain one (FilterStage::tee_next_read).
  size_t tee_min_read = 16 * 1024;
};

enum class StageStatus : uint8_t {
  kOk,        // carry on: write pending_output(), read while wants_input()
  kHandBack,  // the filter handed this direction back (reported once, by that call)
  kClose,     // the filter asked to close (CLOSE) or failed (ERROR): close the connection
  kBroken,    // the filter broke the buffer contract, or no buffer memory: close it
};

// One piece of a stage's output, in the order the sink must get them.
struct OutputPiece {
  enum class Kind : uint8_t {
    kNone,   // nothing to write now
    kBytes,  // write `bytes` to the sink
    kPipe,   // splice `length` bytes from the head of the direction's pipe to the sink
    kDrop,   // discard `length` bytes from the head of the pipe (input the filter changed);
             // needs no sink: do it at once
  };
  Kind kind = Kind::kNone;
  std::span<const uint8_t> bytes;  // kBytes only
  size_t length = 0;               // bytes.size() for kBytes
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
  void commit_input(size_t n) noexcept { commit_input(n, 0); }
  // The read's first `piped` bytes (<= n) were also appended to the direction's pipe,
  // in order. Only while tee_next_read() is true may `piped` be > 0.
  void commit_input(size_t n, size_t piped) noexcept;
  // Whether the next read should also put its bytes into the pipe: the filter has been
  // passing what it reads through unchanged, reads are large enough for two pipes to
  // cost less than a copy, and the pipe's bytes would follow on from those the stage
  // already holds. Advice: a plain read (commit_input(n)) is always allowed.
  bool tee_next_read() const noexcept;
  // The source sent FIN: no more input. process() lets the filter flush its end.
  void commit_eof() noexcept;

  // Runs the filter over the buffered input for as long as it makes progress and the
  // output has room. Cheap when nothing changed since the last call; call it after
  // commit_input(), commit_eof() and consume_output(). A kClose or kBroken result is
  // final (every later call returns it again) and has been logged with the filter,
  // route, client, direction and reason.
  StageResult process() noexcept;

  // What waits for the sink: the filter's output (bytes, or pipe bytes it left
  // unchanged, or pipe bytes to drop), then, after a hand-back, the unfiltered input. One
  // piece of several: write (or splice, or drop) up to its length, consume_output(n)
  // with n <= that length, repeat until kNone or the sink would block.
  OutputPiece next_output() const noexcept;
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

  size_t pending_bytes() const noexcept;  // what next_output() would yield in total
  size_t buffered() const noexcept {
    return input_len() + output_len() + queued_input_ + pipe_queued();
  }
  // What the direction's pipe must hold by the stage's books: queued pipe pieces (to
  // send or drop) and piped input the filter has not consumed yet.
  size_t pipe_bytes() const noexcept { return pipe_queued() + piped_; }

  // A direction whose filter changes this many calls' bytes in a row stops teeing ...
  static constexpr unsigned kTeeMaxChangedCalls = 4;
  // ... and tries again after this many bytes, twice as many after each further stop.
  static constexpr size_t kTeeRetryBytes = 1 << 20;
  static constexpr unsigned kTeeMaxBackoff = 6;  // at most kTeeRetryBytes << 6 (64 MiB)

 private:
  // Where a queued piece's bytes are.
  enum class Source : uint8_t {
    kOutput,  // the output buffer: kOutput entries are [out_begin_, out_end_) in order
    kInput,   // the input buffer at `offset`: forwarded bytes waiting for the sink
    kPipe,    // the head of the pipe, to send
    kDrop,    // the head of the pipe, to discard
  };
  // Entries of the output queue: pieces in sink order, adjacent ones of a source (and,
  // for kInput, contiguous) merged.
  struct Queued {
    uint32_t length;
    uint32_t offset;  // kInput only
    Source source;
  };
  static constexpr size_t kQueueSlots = 8;
  // A call queues at most bytes, pipe, bytes (its output or its forwarded input).
  static constexpr size_t kSlotsPerCall = 3;

  size_t input_len() const noexcept { return in_end_ - in_begin_; }
  size_t output_len() const noexcept { return out_end_ - out_begin_; }
  size_t pipe_queued() const noexcept { return queued_pipe_ + queued_drop_; }
  // The first byte of the input buffer still needed: a forwarded one waiting for the
  // sink, else the first unconsumed one.
  size_t input_start() const noexcept;
  // Moves what is still needed of the input buffer to its front when that makes room.
  void compact_input() noexcept;
  void enqueue(Source source, size_t length, size_t offset = 0) noexcept;
  // Books one transform() call that consumed `in_used` bytes from `in` and wrote
  // `out_len` bytes at the output buffer's end.
  void book_call(const uint8_t* in, size_t in_used, size_t out_len) noexcept;
  // Books one FORWARD call that consumed `in_used` bytes: they go on as they are.
  void book_forward(size_t in_used) noexcept;
  void consume_input(size_t n) noexcept;  // the front n bytes of the input leave
  void note_changed_output(bool changed) noexcept;
  void compact_output() noexcept;
  void release_idle() noexcept;
  // Closes the stage for good and logs why; log_level is an ARUS_LOG_* value.
  StageResult fail(StageStatus status, int log_level, const char* reason, size_t reported = 0,
                   size_t allowed = 0) noexcept;

  FilterSession& session_;
  FilterBuffers& buffers_;
  const int direction_;
  // [in_begin_, in_end_): not yet consumed by the filter; before in_begin_, the
  // forwarded bytes of queued kInput pieces.
  PooledBuffer in_;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  PooledBuffer out_;  // [out_begin_, out_end_): produced, not yet written to the sink
  size_t out_begin_ = 0;
  size_t out_end_ = 0;
  std::array<Queued, kQueueSlots> queue_{};
  uint8_t queue_head_ = 0;
  uint8_t queue_count_ = 0;
  size_t queued_pipe_ = 0;  // kPipe bytes queued
  size_t queued_drop_ = 0;  // kDrop bytes queued
  size_t queued_input_ = 0;  // kInput bytes queued (forwarded, in the input buffer)
  // The unconsumed input is [unpiped head][piped][unpiped tail]: only `piped_` bytes,
  // after `unpiped_head_` others, are also in the pipe (behind its queued pieces). With
  // piped_ == 0, unpiped_head_ is 0 too.
  size_t unpiped_head_ = 0;
  size_t piped_ = 0;
  size_t last_read_ = 0;       // bytes of the last read that got any
  size_t tee_paused_for_ = 0;  // plain reads to go (in bytes) before teeing again
  uint8_t changed_calls_ = 0;  // calls in a row whose output differed from piped input
  uint8_t tee_stops_ = 0;      // times teeing stopped since output last matched
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
