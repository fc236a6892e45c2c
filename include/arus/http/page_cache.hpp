// PageCache: the rendered bodies of an HttpServer's few large pages (for the stats
// listener: /metrics and /stats), shared between the responses that send them. Not
// thread-safe: used on the server's reactor thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "arus/http/http_response.hpp"

namespace arus {

class PageCache {
 public:
  // Renders page number `page` (below the page count) from fresh figures.
  using RenderFn = std::function<std::string(size_t page)>;

  // `render` makes a body for each of `page_count` pages; `share_window_ms` bounds how
  // old a shared body may be.
  PageCache(RenderFn render, size_t page_count, uint64_t share_window_ms)
      : render_(std::move(render)), share_window_ms_(share_window_ms), pages_(page_count) {}

  // The body of `page` (below the page count) at `now_ms`: the previous rendering when
  // some client is still sending it and it is younger than the share window, else a new
  // one. So a quiet endpoint answers every request from fresh figures, while many clients
  // pipelining at once share one body (one "scrape generation" per window) instead of one
  // copy each. May throw (std::bad_alloc, or whatever `render` throws).
  SharedBody body(size_t page, uint64_t now_ms);

  uint64_t renders() const noexcept { return renders_; }

 private:
  struct Rendered {
    // Weak: a body lives only as long as some response still sends it.
    std::weak_ptr<const std::string> body;
    uint64_t rendered_ms = 0;
  };

  RenderFn render_;
  uint64_t share_window_ms_;
  std::vector<Rendered> pages_;
  uint64_t renders_ = 0;
};

}  // namespace arus
