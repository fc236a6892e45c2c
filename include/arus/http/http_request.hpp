// HttpRequestParser: an incremental HTTP/1.x request-head parser for HttpServer,
// with a hard size cap. No I/O, no allocation, no exceptions; one parser per connection
// (not thread-safe, holds only the connection's progress).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace arus {

// Request line plus headers plus the empty line, leading empty lines included.
inline constexpr size_t kMaxRequestHeadBytes = 8192;

struct HttpRequest {
  std::string_view method;  // case-sensitive token, e.g. "GET"
  std::string_view target;  // as sent
  std::string_view path;    // the target's path: query cut off, absolute-form reduced
  int version_minor = 1;    // HTTP/1.<minor>
  bool keep_alive = true;   // HTTP/1.1 unless "Connection: close"; 1.0 only if asked
  bool has_body = false;    // Content-Length > 0 or Transfer-Encoding: keep_alive is
                            // false for such a request
  uint64_t content_length = 0;
  bool chunked = false;     // Transfer-Encoding (HttpServer reads no such body)
  // Set by HttpServer when it reads bodies (HttpServerOptions::max_body_bytes): the
  // whole body, a view into the client's buffer like the fields above.
  std::string_view body;
};

enum class HttpParseStatus { kIncomplete, kComplete, kBad };

struct HttpParseResult {
  HttpParseStatus status = HttpParseStatus::kIncomplete;
  size_t consumed = 0;   // kComplete: bytes of this request's head in the buffer
  int error_status = 0;  // kBad: 400, 414 (request line too long), 431 (head too long),
                         // or 505 (not HTTP/1.x)
  HttpRequest request;   // kComplete: views into the buffer passed to parse()
};

class HttpRequestParser {
 public:
  // `buffer`: every byte received since the request began (since construction or the
  // last reset()); each call passes the previous bytes unchanged plus any new ones.
  // Each byte is examined once across calls. After kComplete, drop `consumed` bytes and
  // reset() before parsing the next (pipelined) request; kBad is final.
  // Leading empty lines are skipped; bare LF is accepted as a line end.
  HttpParseResult parse(std::string_view buffer) noexcept;

  void reset() noexcept { *this = HttpRequestParser(); }

  // True once any byte of a request (other than leading empty lines) has been seen.
  bool started() const noexcept { return started_; }

 private:
  int on_request_line(std::string_view buffer, size_t start, size_t end) noexcept;
  int on_header_line(std::string_view line) noexcept;
  HttpParseResult fail(int status) noexcept;

  size_t scanned_ = 0;     // bytes of the buffer already examined
  size_t line_start_ = 0;  // offset of the line being scanned
  bool started_ = false;
  bool have_request_line_ = false;
  int error_ = 0;  // sticky once set

  // Request line, as offsets into the buffer.
  size_t method_start_ = 0;
  size_t method_size_ = 0;
  size_t target_start_ = 0;
  size_t target_size_ = 0;
  size_t path_start_ = 0;
  size_t path_size_ = 0;
  int version_minor_ = 1;

  // Facts from headers.
  bool host_seen_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool transfer_encoding_ = false;
  bool content_length_seen_ = false;
  uint64_t content_length_ = 0;
};

}  // namespace arus
