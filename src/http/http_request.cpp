// HTTP/1.x request-head parsing (RFC 9112 §2-3, §5, §9.3) for HttpServer: strict
// on syntax that could confuse a proxy in front (bare CR, obs-fold, Content-Length next
// to Transfer-Encoding), lenient where RFC 9112 asks (leading CRLFs, bare LF).
#include "arus/http/http_request.hpp"

#include <algorithm>

namespace arus {
namespace {

constexpr size_t kMaxMethodBytes = 32;

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_tchar);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Field-value bytes: HTAB, SP, VCHAR, obs-text. Everything else (NUL, CR, DEL...) is not.
bool is_field_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7F);
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

HttpParseResult HttpRequestParser::fail(int status) noexcept {
  error_ = status;
  HttpParseResult result;
  result.status = HttpParseStatus::kBad;
  result.error_status = status;
  return result;
}

int HttpRequestParser::on_request_line(std::string_view buffer, size_t start, size_t end) noexcept {
  std::string_view line = buffer.substr(start, end - start);
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return 400;
  std::string_view method = line.substr(0, sp1);
  if (!is_token(method) || method.size() > kMaxMethodBytes) return 400;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return 400;  // HTTP/0.9 simple requests: not served
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (target.empty()) return 400;
  for (char c : target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return 400;
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !is_digit(version[5]) ||
      version[6] != '.' || !is_digit(version[7])) {
    return 400;
  }
  if (version[5] != '1') return 505;
  version_minor_ = version[7] - '0';

  // Origin-form "/path?query", absolute-form "http://host/path", or asterisk-form "*".
  std::string_view path = target;
  if (target.front() != '/' && target != "*") {
    size_t scheme_end;
    if (istarts_with(target, "http://")) {
      scheme_end = 7;
    } else if (istarts_with(target, "https://")) {
      scheme_end = 8;
    } else {
      return 400;
    }
    size_t slash = target.find('/', scheme_end);
    path = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  path = path.substr(0, path.find('?'));

  method_start_ = start;
  method_size_ = method.size();
  target_start_ = start + sp1 + 1;
  target_size_ = target.size();
  if (path.data() >= buffer.data() && path.data() < buffer.data() + buffer.size()) {
    path_start_ = static_cast<size_t>(path.data() - buffer.data());
    path_size_ = path.size();
  } else {  // the literal "/" of an absolute-form target without a path
    path_start_ = std::string_view::npos;
    path_size_ = 0;
  }
  return 0;
}

int HttpRequestParser::on_header_line(std::string_view line) noexcept {
  // obs-fold (a line starting with whitespace) is refused, as RFC 9112 §5.2 allows.
  if (line.front() == ' ' || line.front() == '\t') return 400;
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return 400;
  std::string_view name = line.substr(0, colon);  // whitespace before ':' is not a tchar
  if (!is_token(name)) return 400;
  std::string_view value = line.substr(colon + 1);
  if (!std::all_of(value.begin(), value.end(), is_field_char)) return 400;
  value = trim_ows(value);

  if (iequals(name, "host")) {
    if (host_seen_) return 400;
    host_seen_ = true;
  } else if (iequals(name, "connection")) {
    while (!value.empty()) {
      size_t comma = value.find(',');
      std::string_view option = trim_ows(value.substr(0, comma));
      if (iequals(option, "close")) connection_close_ = true;
      if (iequals(option, "keep-alive")) connection_keep_alive_ = true;
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  } else if (iequals(name, "content-length")) {
    if (value.empty() || value.size() > 18) return 400;
    uint64_t length = 0;
    for (char c : value) {
      if (!is_digit(c)) return 400;
      length = length * 10 + static_cast<uint64_t>(c - '0');
    }
    if (content_length_seen_ && length != content_length_) return 400;
    content_length_seen_ = true;
    content_length_ = length;
  } else if (iequals(name, "transfer-encoding")) {
    transfer_encoding_ = true;
  }
  return 0;
}

HttpParseResult HttpRequestParser::parse(std::string_view buffer) noexcept {
  if (error_ != 0) return fail(error_);
  const size_t limit = std::min(buffer.size(), kMaxRequestHeadBytes);
  for (size_t i = scanned_; i < limit; ++i) {
    char c = buffer[i];
    if (c != '\n') {
      // Inside the request line only printable ASCII, SP and the final CR can occur:
      // refusing the rest here answers a TLS handshake or binary junk at once instead of
      // waiting for 8 KB.
      auto u = static_cast<unsigned char>(c);
      if (!have_request_line_ && c != '\r' && (u < 0x20 || u >= 0x7F)) return fail(400);
      if (c != '\r') started_ = true;
      continue;
    }
    size_t end = i;
    if (end > line_start_ && buffer[end - 1] == '\r') --end;
    std::string_view line = buffer.substr(line_start_, end - line_start_);
    if (line.find('\r') != std::string_view::npos) return fail(400);  // bare CR
    if (!have_request_line_) {
      if (!line.empty()) {
        if (int status = on_request_line(buffer, line_start_, end); status != 0) {
          return fail(status);
        }
        have_request_line_ = true;
      }
    } else if (!line.empty()) {
      if (int status = on_header_line(line); status != 0) return fail(status);
    } else {
      if (transfer_encoding_ && content_length_seen_) return fail(400);  // smuggling shape
      if (version_minor_ >= 1 && !host_seen_) return fail(400);          // RFC 9112 §3.2
      HttpParseResult result;
      result.status = HttpParseStatus::kComplete;
      result.consumed = i + 1;
      HttpRequest& request = result.request;
      request.method = buffer.substr(method_start_, method_size_);
      request.target = buffer.substr(target_start_, target_size_);
      request.path = path_start_ == std::string_view::npos ? std::string_view("/")
                                                           : buffer.substr(path_start_, path_size_);
      request.version_minor = version_minor_;
      request.has_body = transfer_encoding_ || content_length_ > 0;
      request.content_length = content_length_;
      request.chunked = transfer_encoding_;
      request.keep_alive =
          version_minor_ >= 1 ? !connection_close_ : connection_keep_alive_ && !connection_close_;
      if (request.has_body) request.keep_alive = false;
      scanned_ = i + 1;
      line_start_ = i + 1;
      return result;
    }
    line_start_ = i + 1;
  }
  scanned_ = limit;
  if (buffer.size() >= kMaxRequestHeadBytes) return fail(have_request_line_ ? 431 : 414);
  return HttpParseResult{};
}

}  // namespace arus
