// FilterStage: drives a filter's transform() over one direction's buffers and checks
// every length the filter reports before the buffers are touched.
#include "arus/relay/filter_stage.hpp"

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
  if (in_begin_ > 0) {
    // Held-back bytes move to the front so the filter sees them followed by new ones.
    std::memmove(in_.data(), in_.data() + in_begin_, input_len());
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  return {in_.data() + in_end_, buffers_.input.block_size() - in_end_};
}

void FilterStage::commit_input(size_t n) noexcept {
  if (n > 0) {
    // More than writable_input() offered means the caller overran our buffer.
    if (!in_ || n > buffers_.input.block_size() - in_end_) std::abort();
    in_end_ += n;
    dirty_ = true;
  }
  release_idle();
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
    if (out_room == 0) {  // consume_output() will make room and mark us dirty again
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
      case ARUS_FILTER_CLOSE:
        return fail(StageStatus::kClose, ARUS_LOG_INFO, "filter asked to close the connection");
      case ARUS_FILTER_ERROR:
        return fail(StageStatus::kClose, ARUS_LOG_WARN, "filter returned an error");
      default:
        return fail(StageStatus::kBroken, ARUS_LOG_ERROR, "returned an unknown verdict",
                    static_cast<size_t>(static_cast<unsigned>(verdict)), ARUS_FILTER_ERROR);
    }

    in_begin_ += in_used;
    if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
    out_end_ += out_len;

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
      if (output_len() == 0 && (eof || input_full)) {
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

std::span<const uint8_t> FilterStage::pending_output() const noexcept {
  if (closed_) return {};
  if (output_len() > 0) return {out_.data() + out_begin_, output_len()};
  if (handed_back_ && input_len() > 0) return {in_.data() + in_begin_, input_len()};
  return {};
}

void FilterStage::consume_output(size_t n) noexcept {
  if (n == 0) return;
  if (output_len() > 0) {
    if (n > output_len()) std::abort();  // the caller wrote bytes it was never given
    out_begin_ += n;
    if (out_begin_ == out_end_) out_begin_ = out_end_ = 0;
  } else {
    if (!handed_back_ || n > input_len()) std::abort();
    in_begin_ += n;
    if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  }
  dirty_ = true;
  release_idle();
}

bool FilterStage::wants_input() const noexcept {
  if (closed_ || input_eof_) return false;
  return input_len() < buffers_.input.block_size() && output_len() < buffers_.output_high_water;
}

bool FilterStage::finished() const noexcept {
  return input_eof_ && !closed_ && (filter_finished_ || handed_back_) && buffered() == 0;
}

size_t FilterStage::pending_bytes() const noexcept {
  if (closed_) return 0;
  return output_len() + (handed_back_ ? input_len() : 0);
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
  if (in_ && input_len() == 0) in_.reset();
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
