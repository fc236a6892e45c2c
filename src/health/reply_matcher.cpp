// ReplyMatcher: prefix and HTTP status line matching over a reply in pieces.
#include "arus/health/reply_matcher.hpp"

#include <algorithm>

namespace arus {

ReplyMatcher ReplyMatcher::starts_with(std::string expected) {
  ReplyMatcher matcher(Kind::kPrefix);
  matcher.expected_ = std::move(expected);
  return matcher;
}

ReplyMatcher ReplyMatcher::http_status() { return ReplyMatcher(Kind::kHttp); }

ReplyMatcher ReplyMatcher::for_check(const HealthCheckConfig& check) {
  switch (check.kind) {
    case HealthCheckKind::kSendExpect: return starts_with(check.expect);
    case HealthCheckKind::kRedis: return starts_with("+PONG");
    case HealthCheckKind::kHttp: return http_status();
    case HealthCheckKind::kOff:
    case HealthCheckKind::kConnect: break;
  }
  return ReplyMatcher(Kind::kNone);
}

ReplyMatcher::Outcome ReplyMatcher::fail(std::string reason) {
  failure_ = std::move(reason);
  outcome_ = Outcome::kFail;
  return outcome_;
}

ReplyMatcher::Outcome ReplyMatcher::feed(std::string_view bytes) {
  if (outcome_ != Outcome::kNeedMore) return outcome_;
  switch (kind_) {
    case Kind::kNone:
      outcome_ = Outcome::kPass;
      break;
    case Kind::kPrefix: {
      size_t n = std::min(bytes.size(), expected_.size() - matched_);
      if (bytes.substr(0, n) != std::string_view(expected_).substr(matched_, n)) {
        return fail("unexpected reply");
      }
      matched_ += n;
      if (matched_ == expected_.size()) outcome_ = Outcome::kPass;
      break;
    }
    case Kind::kHttp: {
      // Keep at most one byte past the longest status line: enough to refuse it.
      size_t room = kMaxStatusLine + 1 - std::min(seen_.size(), kMaxStatusLine + 1);
      seen_.append(bytes.substr(0, room));
      return decide_http();
    }
  }
  return outcome_;
}

ReplyMatcher::Outcome ReplyMatcher::decide_http() {
  // "HTTP/1.1 200 OK": decided once the three digits after the first space are in.
  constexpr std::string_view kProtocol = "HTTP/";
  size_t head = std::min(seen_.size(), kProtocol.size());
  if (std::string_view(seen_).substr(0, head) != kProtocol.substr(0, head)) {
    return fail("not an http reply");
  }
  size_t space = seen_.find(' ');
  if (space == std::string::npos) {
    if (seen_.size() > kMaxStatusLine) return fail("bad http status line");
    return outcome_;
  }
  if (seen_.size() < space + 4) return outcome_;
  std::string_view code = std::string_view(seen_).substr(space + 1, 3);
  if (!std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return fail("bad http status line");
  }
  if (code[0] == '2' || code[0] == '3') {
    outcome_ = Outcome::kPass;
    return outcome_;
  }
  return fail("http status " + std::string(code));
}

ReplyMatcher::Outcome ReplyMatcher::on_eof() {
  if (outcome_ != Outcome::kNeedMore) return outcome_;
  if (kind_ == Kind::kNone) {
    outcome_ = Outcome::kPass;
    return outcome_;
  }
  return fail(matched_ == 0 && seen_.empty() ? "closed before replying" : "reply cut short");
}

}  // namespace arus
