// FilterStage: drives a filter's transform() over one direction's buffers and checks
// every length the filter reports before the buffers are touched; keeps the books of
// which output goes by send and which by splice from the direction's pipe.
#include "arus/relay/filter_stage.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "arus/core/log.hpp"

namespace arus {
namespace {

// A valid pointer for calls with nothing to read: filters may memcpy from it.
const uint8_t kNoInput[1] = {0};

const char* direction_name(int direction) {
  return direction == ARUS_CLIENT_TO_BACKEND ? "client_to_backend" : "backend_to_client";
}

}  // namespace

FilterStage::FilterStage(FilterSession& session, int direction, FilterBuffers& buffers) noexcept
    : session_(session), buffers_(buffers), direction_(direction) {}

std::span<uint8_t> FilterStage::writable_input() noexcept {
  if (closed_ || input_eof_) return {};
  if (!in_) {
    in_ = buffers_.input.acquire();
    if (!in_) {
      no_memory_ = true;
      dirty_ = true;
      return {};
    }
    in_begin_ = in_end_ = 0;
  }
  compact_input();
  return {in_.data() + in_end_, buffers_.input.block_size() - in_end_};
}

size_t FilterStage::input_start() const noexcept {
  if (queued_input_ == 0) return in_begin_;
  for (size_t i = 0; i < queue_count_; ++i) {
    const Queued& q = queue_[(queue_head_ + i) % kQueueSlots];
    if (q.source == Source::kInput) return q.offset;  // pieces are in buffer order
  }
  return in_begin_;  // not reached: queued_input_ counts kInput pieces
}

void FilterStage::compact_input() noexcept {
  const size_t start = input_start();
  if (start == 0) return;
  const size_t block = buffers_.input.block_size();
  // Held-back bytes move to the front so the filter sees them followed by new ones.
  // Forwarded bytes waiting for the sink usually leave before the next read: they are
  // moved only once the room behind them runs short.
  if (queued_input_ > 0 && block - in_end_ >= block / 4) return;
  std::memmove(in_.data(), in_.data() + start, in_end_ - start);
  for (size_t i = 0; i < queue_count_; ++i) {
    Queued& q = queue_[(queue_head_ + i) % kQueueSlots];
    if (q.source == Source::kInput) q.offset -= static_cast<uint32_t>(start);
  }
  in_begin_ -= start;
  in_end_ -= start;
}

void FilterStage::commit_input(size_t n, size_t piped) noexcept {
  if (n > 0) {
    // More than writable_input() offered means the caller overran our buffer.
    if (!in_ || n > buffers_.input.block_size() - in_end_ || piped > n) std::abort();
    if (piped > 0) {
      // The pipe's new bytes must follow on from the piped input it already holds.
      if (piped_ == 0) {
        unpiped_head_ = input_len();
      } else if (unpiped_head_ + piped_ != input_len()) {
        std::abort();  // the caller teed when tee_next_read() said no
      }
      piped_ += piped;
    } else if (tee_paused_for_ > 0) {
      tee_paused_for_ -= std::min(tee_paused_for_, n);
    }
    in_end_ += n;
    last_read_ = n;
    dirty_ = true;
  }
  release_idle();
}

bool FilterStage::tee_next_read() const noexcept {
  if (closed_ || input_eof_ || handed_back_ || no_memory_) return false;
  if (last_read_ < buffers_.tee_min_read || tee_paused_for_ > 0) return false;
  return piped_ == 0 || unpiped_head_ + piped_ == input_len();
}

void FilterStage::commit_eof() noexcept {
  input_eof_ = true;
  dirty_ = true;
}

StageResult FilterStage::process() noexcept {
  if (closed_) return result_;
  if (no_memory_) return fail(StageStatus::kBroken, ARUS_LOG_ERROR, "no memory for a buffer");
  if (handed_back_ || filter_finished_) return {};

  while (dirty_) {
    const size_t in_len = input_len();
    const bool eof = input_eof_;
    if (in_len == 0 && !eof && !call_again_) {
      dirty_ = false;
      break;
    }
    if (!out_) {
      out_ = buffers_.output.acquire();
      if (!out_) return fail(StageStatus::kBroken, ARUS_LOG_ERROR, "no memory for a buffer");
      out_begin_ = out_end_ = 0;
    }
    compact_output();
    const size_t out_room = buffers_.output.block_size() - out_end_;
    // consume_output() will make room (or free queue slots) and mark us dirty again.
    if (out_room == 0 || kQueueSlots - queue_count_ < kSlotsPerCall) {
      dirty_ = false;
      break;
    }

    const uint8_t* in = in_len > 0 ? in_.data() + in_begin_ : kNoInput;
    size_t in_used = 0;
    size_t out_len = 0;
    int verdict = session_.transform(direction_, in, in_len, out_.data() + out_end_, out_room,
                                     &in_used, &out_len, eof ? ARUS_FILTER_EOF : 0u);
    // Lengths first: nothing below may use a length the filter made up.
    if (out_len > out_room) {
      return fail(StageStatus::kBroken, ARUS_LOG_ERROR, "reported more output than out_cap",
                  out_len, out_room);
    }
    if (in_used > in_len) {
      return fail(StageStatus::kBroken, ARUS_LOG_ERROR, "reported consuming more input than in_len",
                  in_used, in_len);
    }
    switch (verdict) {
      case ARUS_FILTER_CONTINUE:
      case ARUS_FILTER_HAND_BACK:
        break;
      case ARUS_FILTER_FORWARD:
        if (out_len != 0) {
          return fail(StageStatus::kBroken, ARUS_LOG_ERROR,
                      "returned FORWARD with output (out_len must be 0)", out_len, 0);
        }
        break;
      case ARUS_FILTER_CLOSE:
        return fail(StageStatus::kClose, ARUS_LOG_INFO, "filter asked to close the connection");
      case ARUS_FILTER_ERROR:
        return fail(StageStatus::kClose, ARUS_LOG_WARN, "filter returned an error");
      default:
        return fail(StageStatus::kBroken, ARUS_LOG_ERROR, "returned an unknown verdict",
                    static_cast<size_t>(static_cast<unsigned>(verdict)), ARUS_FILTER_ERROR);
    }

    if (verdict == ARUS_FILTER_FORWARD) {
      book_forward(in_used);
    } else {
      book_call(in, in_used, out_len);
    }

    if (verdict == ARUS_FILTER_HAND_BACK) {
      // The rest of the input goes out unfiltered after this output (pending_output()).
      handed_back_ = true;
      dirty_ = false;
      release_idle();
      return {StageStatus::kHandBack, "filter handed the direction back"};
    }
    call_again_ = out_len == out_room;
    if (eof && in_used == in_len && out_len < out_room) {
      filter_finished_ = true;
      dirty_ = false;
      release_idle();
      return {};
    }
    if (in_used == 0 && out_len == 0) {
      // No progress is fine while the filter may still get what it waits for: more
      // input (not at EOF, buffer not full) or more room (output still draining).
      const bool input_full = in_len == buffers_.input.block_size();
      if (output_len() + queued_input_ == 0 && (eof || input_full)) {
        return fail(StageStatus::kBroken, ARUS_LOG_ERROR,
                    eof ? "made no progress at end of stream"
                        : "made no progress with a full input buffer");
      }
      dirty_ = false;
    }
  }
  release_idle();  // e.g. an output buffer taken for a call that held everything back
  return {};
}

void FilterStage::book_call(const uint8_t* in, size_t in_used, size_t out_len) noexcept {
  // Where the consumed bytes are: before, in and after the piped part of the input.
  const size_t head = std::min(in_used, unpiped_head_);
  const size_t piped = std::min(in_used - head, piped_);
  const size_t tail = in_used - head - piped;
  uint8_t* out = out_.data() + out_end_;
  if (piped > 0 && out_len == in_used && std::memcmp(out, in, in_used) == 0) {
    // Unchanged: the piped part goes from the pipe, only the rest from the output.
    enqueue(Source::kOutput, head);
    enqueue(Source::kPipe, piped);
    if (tail > 0) {
      std::memmove(out + head, out + head + piped, tail);
      enqueue(Source::kOutput, tail);
    }
    out_end_ += head + tail;
    note_changed_output(false);
  } else {
    if (piped > 0) {
      enqueue(Source::kDrop, piped);
      note_changed_output(true);
    }
    enqueue(Source::kOutput, out_len);
    out_end_ += out_len;
  }
  consume_input(in_used);
}

void FilterStage::book_forward(size_t in_used) noexcept {
  // The same three parts as in book_call(); the unpiped ones are sent from where they
  // are in the input buffer.
  const size_t head = std::min(in_used, unpiped_head_);
  const size_t piped = std::min(in_used - head, piped_);
  const size_t tail = in_used - head - piped;
  enqueue(Source::kInput, head, in_begin_);
  enqueue(Source::kPipe, piped);
  enqueue(Source::kInput, tail, in_begin_ + head + piped);
  if (in_used > 0) {
    // The filter says it passes bytes on: teeing pays again from the next large read.
    if (piped > 0) note_changed_output(false);
    changed_calls_ = 0;
    tee_paused_for_ = 0;
  }
  consume_input(in_used);
}

void FilterStage::consume_input(size_t n) noexcept {
  const size_t head = std::min(n, unpiped_head_);
  unpiped_head_ -= head;
  piped_ -= std::min(n - head, piped_);
  if (piped_ == 0) unpiped_head_ = 0;
  in_begin_ += n;
  if (in_begin_ == in_end_ && queued_input_ == 0) in_begin_ = in_end_ = 0;
}

void FilterStage::note_changed_output(bool changed) noexcept {
  if (!changed) {
    changed_calls_ = 0;
    tee_stops_ = 0;
    return;
  }
  if (++changed_calls_ < kTeeMaxChangedCalls) return;
  // A filter that rewrites what it reads: plain reads, trying again now and then in
  // case the stream changes (a header rewritten, then a body passed through).
  changed_calls_ = 0;
  tee_paused_for_ = kTeeRetryBytes << std::min<unsigned>(tee_stops_, kTeeMaxBackoff);
  if (tee_stops_ < kTeeMaxBackoff) ++tee_stops_;
}

void FilterStage::enqueue(Source source, size_t length, size_t offset) noexcept {
  if (length == 0) return;
  if (source == Source::kPipe) queued_pipe_ += length;
  if (source == Source::kDrop) queued_drop_ += length;
  if (source == Source::kInput) queued_input_ += length;
  if (queue_count_ > 0) {
    Queued& last = queue_[(queue_head_ + queue_count_ - 1) % kQueueSlots];
    if (last.source == source &&
        (source != Source::kInput || last.offset + last.length == offset)) {
      last.length += static_cast<uint32_t>(length);
      return;
    }
  }
  if (queue_count_ == kQueueSlots) std::abort();  // process() leaves kSlotsPerCall free
  queue_[(queue_head_ + queue_count_) % kQueueSlots] = {
      static_cast<uint32_t>(length), static_cast<uint32_t>(offset), source};
  ++queue_count_;
}

OutputPiece FilterStage::next_output() const noexcept {
  using Kind = OutputPiece::Kind;
  if (closed_) return {};
  if (queue_count_ > 0) {
    const Queued& head = queue_[queue_head_];
    switch (head.source) {
      case Source::kOutput:
        return {Kind::kBytes, {out_.data() + out_begin_, head.length}, head.length};
      case Source::kInput:
        return {Kind::kBytes, {in_.data() + head.offset, head.length}, head.length};
      case Source::kPipe:
        return {Kind::kPipe, {}, head.length};
      case Source::kDrop:
        return {Kind::kDrop, {}, head.length};
    }
  }
  if (!handed_back_ || input_len() == 0) return {};
  // After a hand-back the unconsumed input goes out as it came: its piped part from
  // the pipe, the rest from the input buffer.
  if (piped_ > 0 && unpiped_head_ == 0) return {Kind::kPipe, {}, piped_};
  const size_t bytes = piped_ > 0 ? unpiped_head_ : input_len();
  return {Kind::kBytes, {in_.data() + in_begin_, bytes}, bytes};
}

void FilterStage::consume_output(size_t n) noexcept {
  if (n == 0) return;
  if (queue_count_ > 0) {
    Queued& head = queue_[queue_head_];
    if (n > head.length) std::abort();  // the caller wrote bytes it was never given
    switch (head.source) {
      case Source::kOutput:
        out_begin_ += n;
        if (out_begin_ == out_end_) out_begin_ = out_end_ = 0;
        break;
      case Source::kInput:
        head.offset += static_cast<uint32_t>(n);
        queued_input_ -= n;
        if (queued_input_ == 0 && input_len() == 0) in_begin_ = in_end_ = 0;
        break;
      case Source::kPipe:
        queued_pipe_ -= n;
        break;
      case Source::kDrop:
        queued_drop_ -= n;
        break;
    }
    head.length -= static_cast<uint32_t>(n);
    if (head.length == 0) {
      queue_head_ = static_cast<uint8_t>((queue_head_ + 1) % kQueueSlots);
      --queue_count_;
    }
  } else {
    if (!handed_back_ || n > next_output().length) std::abort();
    consume_input(n);
  }
  dirty_ = true;
  release_idle();
}

bool FilterStage::wants_input() const noexcept {
  if (closed_ || input_eof_) return false;
  // Room for a read once compact_input() moved what is still needed to the front.
  return in_end_ - input_start() < buffers_.input.block_size() &&
         output_len() + queued_pipe_ + queued_input_ < buffers_.output_high_water;
}

bool FilterStage::finished() const noexcept {
  return input_eof_ && !closed_ && (filter_finished_ || handed_back_) && buffered() == 0;
}

size_t FilterStage::pending_bytes() const noexcept {
  if (closed_) return 0;
  return output_len() + queued_input_ + pipe_queued() + (handed_back_ ? input_len() : 0);
}

void FilterStage::compact_output() noexcept {
  if (out_begin_ == 0) return;
  // Moving the pending bytes costs their length and frees out_begin_ bytes at the end:
  // worth it once the gain matches the cost, or when there is no room at all.
  const size_t pending = output_len();
  if (out_begin_ >= pending || out_end_ == buffers_.output.block_size()) {
    std::memmove(out_.data(), out_.data() + out_begin_, pending);
    out_begin_ = 0;
    out_end_ = pending;
  }
}

void FilterStage::release_idle() noexcept {
  if (in_ && input_len() == 0 && queued_input_ == 0) in_.reset();
  if (out_ && output_len() == 0) out_.reset();
}

StageResult FilterStage::fail(StageStatus status, int log_level, const char* reason,
                              size_t reported, size_t allowed) noexcept {
  closed_ = true;
  result_ = {status, reason};
  // Bytes still buffered are dropped: a closing connection sends nothing more.
  in_.reset();
  out_.reset();
  in_begin_ = in_end_ = out_begin_ = out_end_ = 0;
  queue_head_ = queue_count_ = 0;
  queued_pipe_ = queued_drop_ = queued_input_ = unpiped_head_ = piped_ = 0;

  const FilterConnInfo& info = session_.info();
  const bool broken = status == StageStatus::kBroken;
  log::Line line(static_cast<log::Level>(log_level),
                 broken ? "filter broke its contract" : "filter closed the connection");
  line.kv("filter", session_.filter_path())
      .kv("route", info.route)
      .kv("client", info.client)
      .kv("conn", info.connection_id)
      .kv("direction", direction_name(direction_))
      .kv("reason", reason);
  if (broken && (reported != 0 || allowed != 0)) {
    line.kv("reported", static_cast<uint64_t>(reported))
        .kv("allowed", static_cast<uint64_t>(allowed));
  }
  return result_;
}

}  // namespace arus
