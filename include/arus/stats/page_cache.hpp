// PageCache: the rendered /metrics and /stats bodies of one stats server, shared between
// the responses that send them. Not thread-safe: used on the server's reactor thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "arus/stats/stats_endpoint.hpp"

namespace arus {

class PageCache {
 public:
  using RenderFn = std::function<std::string(StatsPage)>;

  // `render` makes a body from a fresh snapshot; `share_window_ms` bounds how old a
  // shared body may be.
  PageCache(RenderFn render, uint64_t share_window_ms)
      : render_(std::move(render)), share_window_ms_(share_window_ms) {}

  // The body of `page` at `now_ms`: the previous rendering when some client is still
  // sending it and it is younger than the share window, else a new one. So a quiet
  // endpoint answers every request from fresh figures, while many clients pipelining
  // at once share one body (one "scrape generation" per window) instead of one copy
  // each. May throw (std::bad_alloc, or whatever `render` throws).
  SharedBody body(StatsPage page, uint64_t now_ms);

  uint64_t renders() const noexcept { return renders_; }

 private:
  struct Rendered {
    // Weak: a body lives only as long as some response still sends it.
    std::weak_ptr<const std::string> body;
    uint64_t rendered_ms = 0;
  };

  RenderFn render_;
  uint64_t share_window_ms_;
  Rendered pages_[kStatsPageCount];
  uint64_t renders_ = 0;
};

}  // namespace arus
