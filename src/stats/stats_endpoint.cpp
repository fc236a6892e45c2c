// Routing and response formatting for the stats endpoint.
#include "arus/stats/stats_endpoint.hpp"

#include <cstdio>
#include <utility>

#include "arus/stats/json_exporter.hpp"
#include "arus/stats/metrics_exporter.hpp"

namespace arus {
namespace {

constexpr const char* kTextContentType = "text/plain; charset=utf-8";

void append_response(std::string& out, int status, int version_minor, bool close,
                     std::string_view content_type, std::string_view body, bool head_only,
                     std::string_view extra_headers = {}) {
  char line[64];
  snprintf(line, sizeof line, "HTTP/1.%d %d ", version_minor >= 1 ? 1 : 0, status);
  out += line;
  out += http_reason_phrase(status);
  out += "\r\nContent-Type: ";
  out += content_type;
  snprintf(line, sizeof line, "\r\nContent-Length: %zu\r\n", body.size());
  out += line;
  out += "Cache-Control: no-store\r\n";
  out += extra_headers;
  // HTTP/1.1 keeps alive by default; HTTP/1.0 only with an explicit keep-alive.
  if (close) {
    out += "Connection: close\r\n";
  } else if (version_minor == 0) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (!head_only) out += body;
}

}  // namespace

std::string_view http_reason_phrase(int status) {
  static constexpr std::pair<int, std::string_view> kPhrases[] = {
      {200, "OK"},
      {400, "Bad Request"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {408, "Request Timeout"},
      {414, "URI Too Long"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {503, "Service Unavailable"},
      {505, "HTTP Version Not Supported"},
  };
  for (const auto& [code, phrase] : kPhrases) {
    if (code == status) return phrase;
  }
  return "Error";
}

std::string render_page(StatsPage page, const StatsSnapshot& snapshot) {
  return page == StatsPage::kMetrics ? render_prometheus(snapshot) : render_json(snapshot);
}

StatsResponse append_stats_response(const HttpRequest& request, const PageBodyFn& page_body,
                                    std::string& out) {
  StatsResponse response;
  response.close = !request.keep_alive;
  const bool close = response.close;
  const int minor = request.version_minor;
  enum class Page { kMetrics, kStats, kHealth, kNone };
  Page page = request.path == "/metrics"   ? Page::kMetrics
              : request.path == "/stats"   ? Page::kStats
              : request.path == "/healthz" ? Page::kHealth
                                           : Page::kNone;
  if (page == Page::kNone) {
    append_response(out, 404, minor, close, kTextContentType, "not found\n", false);
    return response;
  }
  const bool head = request.method == "HEAD";
  if (!head && request.method != "GET") {
    append_response(out, 405, minor, close, kTextContentType, "method not allowed\n", false,
                    "Allow: GET, HEAD\r\n");
    return response;
  }
  if (page == Page::kHealth) {
    append_response(out, 200, minor, close, kTextContentType, "ok\n", head);
    return response;
  }
  const bool metrics = page == Page::kMetrics;
  SharedBody body = page_body(metrics ? StatsPage::kMetrics : StatsPage::kStats);
  // The head alone here (its Content-Length from the body); the body goes by reference.
  append_response(out, 200, minor, close, metrics ? kPrometheusContentType : kJsonContentType,
                  *body, /*head_only=*/true);
  if (!head) response.body = std::move(body);
  return response;
}

void append_error_response(int status, std::string& out) {
  std::string body(http_reason_phrase(status));
  for (char& c : body) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  body += '\n';
  append_response(out, status, 1, true, kTextContentType, body, false);
}

}  // namespace arus
