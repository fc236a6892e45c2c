// Routing of the stats endpoint: /metrics, /stats, /healthz.
#include "arus/app/stats_endpoint.hpp"

#include <utility>

#include "arus/stats/json_exporter.hpp"
#include "arus/stats/metrics_exporter.hpp"

namespace arus {
namespace {

constexpr const char* kTextContentType = "text/plain; charset=utf-8";

}  // namespace

std::string render_page(StatsPage page, const StatsSnapshot& snapshot) {
  return page == StatsPage::kMetrics ? render_prometheus(snapshot) : render_json(snapshot);
}

StatsResponse append_stats_response(const HttpRequest& request, const PageBodyFn& page_body,
                                    std::string& out, bool draining) {
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
    append_http_response(out, 404, minor, close, kTextContentType, "not found\n", false);
    return response;
  }
  const bool head = request.method == "HEAD";
  if (!head && request.method != "GET") {
    append_http_response(out, 405, minor, close, kTextContentType, "method not allowed\n", false,
                         "Allow: GET, HEAD\r\n");
    return response;
  }
  if (page == Page::kHealth) {
    if (draining) {
      append_http_response(out, 503, minor, close, kTextContentType, "draining\n", head);
    } else {
      append_http_response(out, 200, minor, close, kTextContentType, "ok\n", head);
    }
    return response;
  }
  const bool metrics = page == Page::kMetrics;
  SharedBody body = page_body(metrics ? StatsPage::kMetrics : StatsPage::kStats);
  // The head alone here (its Content-Length from the body); the body goes by reference.
  append_http_response(out, 200, minor, close, metrics ? kPrometheusContentType : kJsonContentType,
                       *body, /*head_only=*/true);
  if (!head) response.body = std::move(body);
  return response;
}

}  // namespace arus
