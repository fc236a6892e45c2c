// libFuzzer target for HttpRequestParser (and the responses built from what it accepts):
// parsing a buffer whole and parsing it in pieces must agree, results must respect the
// 8 KB cap, and no input may crash, leak or read out of bounds. Single-threaded.
// Build and run: `make fuzz` (clang++ -fsanitize=fuzzer,address,undefined).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "arus/app/stats_endpoint.hpp"
#include "arus/http/http_request.hpp"

namespace {

using arus::HttpParseResult;
using arus::HttpParseStatus;

void require(bool condition) {
  if (!condition) abort();
}

bool same(const HttpParseResult& a, const HttpParseResult& b) {
  if (a.status != b.status) return false;
  if (a.status == HttpParseStatus::kBad) return a.error_status == b.error_status;
  if (a.status == HttpParseStatus::kIncomplete) return true;
  const arus::HttpRequest& x = a.request;
  const arus::HttpRequest& y = b.request;
  return a.consumed == b.consumed && x.method == y.method && x.target == y.target &&
         x.path == y.path && x.version_minor == y.version_minor &&
         x.keep_alive == y.keep_alive && x.has_body == y.has_body;
}

// Feeds `input` to a fresh parser `step` bytes more at a time, as a socket might.
HttpParseResult parse_in_pieces(std::string_view input, size_t step) {
  arus::HttpRequestParser parser;
  size_t n = 0;
  for (;;) {
    n = n + step < input.size() ? n + step : input.size();
    HttpParseResult result = parser.parse(input.substr(0, n));
    if (result.status != HttpParseStatus::kIncomplete || n == input.size()) return result;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = data[0] % 64 + 1;  // the first byte picks the read size
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const arus::PageBodyFn page_body = [](arus::StatsPage page) {
    return std::make_shared<const std::string>(arus::render_page(page, arus::StatsSnapshot{}));
  };

  // Pipelined requests, one after another, as the server consumes them.
  size_t offset = 0;
  for (int requests = 0; requests < 64; ++requests) {
    std::string_view rest = input.substr(offset);
    arus::HttpRequestParser parser;
    HttpParseResult whole = parser.parse(rest);
    require(same(whole, parse_in_pieces(rest, step)));
    if (whole.status == HttpParseStatus::kIncomplete) {
      require(rest.size() < arus::kMaxRequestHeadBytes);
      break;
    }
    if (whole.status == HttpParseStatus::kBad) {
      int s = whole.error_status;
      require(s == 400 || s == 414 || s == 431 || s == 505);
      if (s == 414 || s == 431) require(rest.size() >= arus::kMaxRequestHeadBytes);
      require(parser.parse(rest).status == HttpParseStatus::kBad);  // final
      break;
    }
    const arus::HttpRequest& request = whole.request;
    require(whole.consumed > 0 && whole.consumed <= rest.size());
    require(whole.consumed <= arus::kMaxRequestHeadBytes);
    require(!request.method.empty() && !request.target.empty() && !request.path.empty());
    require(request.version_minor >= 0 && request.version_minor <= 9);
    require(!request.has_body || !request.keep_alive);
    std::string response;
    bool close = arus::append_stats_response(request, page_body, response).close;
    require(response.rfind("HTTP/1.", 0) == 0 && response.find("\r\n\r\n") != std::string::npos);
    require(close == !request.keep_alive);
    offset += whole.consumed;
    if (close) break;
  }
  return 0;
}
