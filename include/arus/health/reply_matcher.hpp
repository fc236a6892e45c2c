// ReplyMatcher: decides one health check from the backend's reply, fed as it arrives
// in pieces of any size. Pure logic, no I/O; one per check, single-threaded.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "arus/config/health_check_config.hpp"

namespace arus {

class ReplyMatcher {
 public:
  enum class Outcome { kNeedMore, kPass, kFail };

  // The reply must start with `expected` (send_expect; redis: "+PONG"). Bytes after it
  // are ignored, so a longer reply passes.
  static ReplyMatcher starts_with(std::string expected);
  // An HTTP status line "HTTP/1.x NNN ...": 2xx and 3xx pass, anything else fails.
  static ReplyMatcher http_status();
  // What `check` expects of a reply (connect: nothing, see needs_reply()).
  static ReplyMatcher for_check(const HealthCheckConfig& check);

  // False for a check that passes as soon as the connect does.
  bool needs_reply() const noexcept { return kind_ != Kind::kNone; }

  // More bytes of the reply. Once decided, later calls return the same outcome.
  Outcome feed(std::string_view bytes);
  // The backend closed its side: an undecided reply fails.
  Outcome on_eof();

  // Why it failed ("unexpected reply", "http status 503", ...); empty otherwise.
  const std::string& failure() const noexcept { return failure_; }

 private:
  enum class Kind { kNone, kPrefix, kHttp };
  // The longest status line we wait for: a real one is about 15 bytes.
  static constexpr size_t kMaxStatusLine = 256;

  explicit ReplyMatcher(Kind kind) : kind_(kind) {}
  Outcome decide_http();
  Outcome fail(std::string reason);

  Kind kind_;
  Outcome outcome_ = Outcome::kNeedMore;
  std::string expected_;  // kPrefix
  size_t matched_ = 0;    // kPrefix: bytes of expected_ seen so far
  std::string seen_;      // kHttp: the status line so far
  std::string failure_;
};

}  // namespace arus
