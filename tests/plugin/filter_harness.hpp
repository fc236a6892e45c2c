// Test harness for filters on the buffered path: one connection's FilterSession and
// both directions' FilterStages, fed the way the relay feeds them, with a sink that
// takes everything. Single-threaded test use only.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <span>
#include <string>

#include "arus/filter.h"
#include "arus/plugin/filter_instance.hpp"
#include "arus/plugin/filter_session.hpp"
#include "arus/plugin/plugin_loader.hpp"
#include "arus/relay/filter_stage.hpp"

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
  // drains output into sent(). Returns the last non-ok result, or kOk.
  StageResult feed(int direction, const std::string& bytes, bool drain = true) {
    FilterStage& s = stage(direction);
    StageResult last;
    size_t off = 0;
    while (off < bytes.size()) {
      std::span<uint8_t> room = s.writable_input();
      if (room.empty()) break;
      size_t n = std::min(room.size(), bytes.size() - off);
      std::copy_n(bytes.data() + off, n, room.data());
      s.commit_input(n);
      off += n;
      StageResult r = s.process();
      if (r.status != StageStatus::kOk) last = r;
      if (r.closes()) return r;
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

  // Writes everything pending, processing after each write as the relay would.
  StageResult pump_out(int direction) {
    FilterStage& s = stage(direction);
    StageResult last;
    for (int guard = 0; guard < 1000000; ++guard) {
      std::span<const uint8_t> out = s.pending_output();
      if (out.empty()) break;
      sent_[direction] += str(out);
      s.consume_output(out.size());
      StageResult r = s.process();
      if (r.status != StageStatus::kOk) last = r;
      if (r.closes()) break;
    }
    return last;
  }

  const std::string& sent(int direction) const { return sent_[direction]; }
  size_t fed(int direction) const { return fed_[direction]; }
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
  size_t fed_[2] = {0, 0};
};

}  // namespace arus::testing
