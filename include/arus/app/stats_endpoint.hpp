// What the stats endpoint answers: maps a parsed request to response bytes (/metrics,
// /stats, /healthz, 404, 405); HttpServer does the rest. No I/O; thread-safe as long as
// the page body function is.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "arus/http/http_request.hpp"
#include "arus/http/http_response.hpp"
#include "arus/stats/stats_snapshot.hpp"

namespace arus {

// Called once per rendering of /metrics or /stats, on the thread serving it.
using StatsSnapshotFn = std::function<StatsSnapshot()>;

// The pages made from a snapshot.
enum class StatsPage { kMetrics, kStats };
inline constexpr size_t kStatsPageCount = 2;

// Returns the body of a page (never null); may render it or share an earlier rendering.
using PageBodyFn = std::function<SharedBody(StatsPage)>;

// The body of `page` for `snapshot`: Prometheus text or JSON.
std::string render_page(StatsPage page, const StatsSnapshot& snapshot);

using StatsResponse = HttpResponse;

// Appends the response to `request` to `out`: all of it, or its head when the body is a
// page from `page_body` (returned in `body`, to be sent by reference, not copied).
// `draining`: /healthz answers 503 "draining" instead of 200 "ok", so what stands in
// front (a load balancer, a readiness probe) stops sending new clients first.
StatsResponse append_stats_response(const HttpRequest& request, const PageBodyFn& page_body,
                                    std::string& out, bool draining = false);

}  // namespace arus
