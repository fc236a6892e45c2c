// Test harness for filters on the buffered path: one connection's FilterSession and
// both directions' FilterStages, fed the way the relay feeds them, with a sink that
// takes everything. Single-threaded test use only.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "arus/filter.h"
#include "arus/plugin/filter_instance.hpp"
#include "arus/plugin/filter_session.hpp"
#include "arus/plugin/plugin_loader.hpp"
#include "arus/relay/filter_stage.hpp"
#include "filter_test_util.hpp"

namespace arus::testing {

constexpr int kC2B = ARUS_CLIENT_TO_BACKEND;
constexpr int kB2C = ARUS_BACKEND_TO_CLIENT;

inline std::string str(std::span<const uint8_t> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// One connection: a session of the filter with `args` and both directions' stages,
// fed like the relay would, with a sink that takes everything.
class Harness {
 public:
  Harness(const std::shared_ptr<const FilterPlugin>& plugin, const std::string& args,
          FilterBuffers* buffers = nullptr)
      : buffers_(buffers != nullptr ? buffers : &own_buffers_) {
    auto instance = FilterInstance::create(plugin, args);
    if (!instance.ok()) {
      ADD_FAILURE() << instance.error().message;
      return;
    }
    open(std::move(*instance));
  }
  // A connection of an existing route (instance); holds one reference to it.
  explicit Harness(FilterInstancePtr instance) : buffers_(&own_buffers_) {
    open(std::move(instance));
  }

  ~Harness() {
    stages_[0].reset();
    stages_[1].reset();
  }

  bool ok() const { return session_ != nullptr; }
  FilterStage& stage(int direction) { return *stages_[direction]; }

  // Reads `bytes` into the stage as far as it accepts them, processing as it goes, and
  // drains output into sent(). With `tee`, reads the stage advises to tee also go into
  // a model of the direction's pipe (pipe()), at most `tee_limit` bytes of each, as a
  // pipe short of slots would take. Returns the last non-ok result, or kOk.
  StageResult feed(int direction, const std::string& bytes, bool drain = true, bool tee = false,
                   size_t tee_limit = SIZE_MAX) {
    FilterStage& s = stage(direction);
    StageResult last;
    size_t off = 0;
    while (off < bytes.size()) {
      std::span<uint8_t> room = s.writable_input();
      if (room.empty()) break;
      size_t n = std::min(room.size(), bytes.size() - off);
      std::copy_n(bytes.data() + off, n, room.data());
      size_t piped = 0;
      if (tee && s.tee_next_read()) {
        piped = std::min(n, tee_limit);
        pipe_[direction] += bytes.substr(off, piped);
      }
      s.commit_input(n, piped);
      off += n;
      check_pipe(direction);
      StageResult r = s.process();
      if (r.status != StageStatus::kOk) last = r;
      if (r.closes()) return r;
      check_pipe(direction);
      if (drain)
        pump_out(direction);
      else if (!s.wants_input())
        break;
    }
    fed_[direction] += off;
    return last;
  }

  StageResult finish(int direction) {
    FilterStage& s = stage(direction);
    s.commit_input(0);
    s.commit_eof();
    StageResult r = s.process();
    if (!r.closes()) pump_out(direction);
    return r;
  }

  // Writes everything pending, processing after each write as the relay would: bytes
  // as they are, pipe pieces and drops from the model pipe.
  StageResult pump_out(int direction) {
    FilterStage& s = stage(direction);
    StageResult last;
    for (int guard = 0; guard < 1000000; ++guard) {
      OutputPiece piece = s.next_output();
      if (piece.kind == OutputPiece::Kind::kNone) break;
      std::string& pipe = pipe_[direction];
      if (piece.length >
          (piece.kind == OutputPiece::Kind::kBytes ? piece.bytes.size() : pipe.size())) {
        ADD_FAILURE() << "a piece longer than what backs it";
        break;
      }
      switch (piece.kind) {
        case OutputPiece::Kind::kBytes:
          sent_[direction] += str(piece.bytes);
          sent_copied_[direction] += piece.length;
          break;
        case OutputPiece::Kind::kPipe:
          sent_[direction] += pipe.substr(0, piece.length);
          sent_spliced_[direction] += piece.length;
          pipe.erase(0, piece.length);
          break;
        default:
          dropped_[direction] += piece.length;
          pipe.erase(0, piece.length);
          break;
      }
      s.consume_output(piece.length);
      check_pipe(direction);
      StageResult r = s.process();
      if (r.status != StageStatus::kOk) last = r;
      if (r.closes()) break;
      check_pipe(direction);
    }
    return last;
  }

  // The stage's books must match what the pipe holds (a closed stage keeps none).
  void check_pipe(int direction) {
    FilterStage& s = stage(direction);
    if (!s.closed()) {
      EXPECT_EQ(s.pipe_bytes(), pipe_[direction].size());
    }
  }

  const std::string& sent(int direction) const { return sent_[direction]; }
  size_t fed(int direction) const { return fed_[direction]; }
  // How the sent bytes went: from a buffer (copied) or from the pipe (spliced); and the
  // pipe bytes dropped as changed input.
  size_t sent_copied(int direction) const { return sent_copied_[direction]; }
  size_t sent_spliced(int direction) const { return sent_spliced_[direction]; }
  size_t dropped(int direction) const { return dropped_[direction]; }
  const std::string& pipe(int direction) const { return pipe_[direction]; }
  FilterBuffers& buffers() { return *buffers_; }
  void close_session() {
    stages_[0].reset();
    stages_[1].reset();
    session_.reset();
  }

 private:
  void open(FilterInstancePtr instance) {
    auto session = FilterSession::open(
        std::move(instance), FilterConnInfo{42, "web", "127.0.0.1:5555", "127.0.0.1:9001"});
    if (!session.ok()) {
      ADD_FAILURE() << session.error().message;
      return;
    }
    session_ = std::move(*session);
    stages_[0] = std::make_unique<FilterStage>(*session_, ARUS_CLIENT_TO_BACKEND, *buffers_);
    stages_[1] = std::make_unique<FilterStage>(*session_, ARUS_BACKEND_TO_CLIENT, *buffers_);
  }

  FilterBuffers own_buffers_;
  FilterBuffers* buffers_;
  std::unique_ptr<FilterSession> session_;
  std::unique_ptr<FilterStage> stages_[2];
  std::string sent_[2];
  std::string pipe_[2];
  size_t fed_[2] = {0, 0};
  size_t sent_copied_[2] = {0, 0};
  size_t sent_spliced_[2] = {0, 0};
  size_t dropped_[2] = {0, 0};
};

// What the suites' C test filters share, spliced into their source right after their
// `static const char* names[]` (one behaviour per name, picked by filter_args):
// t_create() refuses an unknown name and makes the route state point at the name,
// mode_of(state) gives its index, t_destroy() frees nothing.
inline constexpr const char* kTestFilterModes = R"C(
static int mode_of(const void* state) { return (int)((const char* const*)state - names); }
static int t_create(const char* args, void** rs, char* error, size_t error_size) {
  size_t i;
  for (i = 0; i < sizeof names / sizeof names[0]; ++i) {
    if (strcmp(args, names[i]) == 0) { *rs = (void*)&names[i]; return 0; }
  }
  strncpy(error, "unknown mode", error_size - 1);
  return -1;
}
static void t_destroy(void* rs) { (void)rs; }
)C";

// A C test filter compiled and loaded once: made in a suite's SetUpTestSuite().
class CompiledFilter {
 public:
  CompiledFilter(const std::string& name, const std::string& source) {
    error_ = compile_filter(dir_.path(), name, source);
    if (!error_.empty()) return;
    auto loaded = load_filter(dir_.path(), name);
    if (loaded.ok()) {
      plugin_ = *loaded;
    } else {
      error_ = loaded.error().message;
    }
  }

  const std::string& error() const { return error_; }  // "" once loaded
  const std::shared_ptr<const FilterPlugin>& plugin() const { return plugin_; }

 private:
  TempDir dir_;
  std::string error_;
  std::shared_ptr<const FilterPlugin> plugin_;
};

}  // namespace arus::testing
