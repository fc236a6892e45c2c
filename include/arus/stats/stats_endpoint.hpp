// What the stats endpoint answers: maps a parsed request to response bytes (/metrics,
// /stats, /healthz, 404, 405) and formats error responses. No I/O; thread-safe as long
// as the page body function is.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "arus/stats/http_request.hpp"
#include "arus/stats/stats_snapshot.hpp"

namespace arus {

// Called once per rendering of /metrics or /stats, on the thread serving it.
using StatsSnapshotFn = std::function<StatsSnapshot()>;

// The pages made from a snapshot.
enum class StatsPage { kMetrics, kStats };
inline constexpr size_t kStatsPageCount = 2;

// A rendered page body: immutable, shared by every response that sends it.
using SharedBody = std::shared_ptr<const std::string>;
// Returns the body of a page (never null); may render it or share an earlier rendering.
using PageBodyFn = std::function<SharedBody(StatsPage)>;

// The body of `page` for `snapshot`: Prometheus text or JSON.
std::string render_page(StatsPage page, const StatsSnapshot& snapshot);

struct StatsResponse {
  bool close = false;  // the connection must close once it is sent (the client asked,
                       // HTTP/1.0 without keep-alive, or the request had a body the
                       // server does not read)
  SharedBody body;     // sent after the bytes appended to `out`; null when those are all
};

// Appends the response to `request` to `out`: all of it, or its head when the body is a
// page from `page_body` (returned in `body`, to be sent by reference, not copied).
StatsResponse append_stats_response(const HttpRequest& request, const PageBodyFn& page_body,
                                    std::string& out);

// Appends an error response with "Connection: close" (400, 408, 414, 431, 503, 505...).
void append_error_response(int status, std::string& out);

// "Not Found" for 404 and so on; "Error" for codes it does not know.
std::string_view http_reason_phrase(int status);

}  // namespace arus
