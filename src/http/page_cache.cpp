// PageCache: share a rendering while it is in flight and young, else render anew.
#include "arus/http/page_cache.hpp"

namespace arus {

SharedBody PageCache::body(size_t page, uint64_t now_ms) {
  Rendered& rendered = pages_[page];
  if (now_ms < rendered.rendered_ms + share_window_ms_) {
    if (SharedBody body = rendered.body.lock()) return body;
  }
  auto body = std::make_shared<const std::string>(render_(page));
  ++renders_;
  rendered = Rendered{body, now_ms};
  return body;
}

}  // namespace arus
