// What the stats endpoint answers: maps a parsed request to response bytes (/metrics,
// /stats, /healthz, 404, 405) and formats error responses. No I/O; thread-safe as long
// as the snapshot function is.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "arus/stats/http_request.hpp"
#include "arus/stats/stats_snapshot.hpp"

namespace arus {

// Called once per /metrics or /stats request, on the thread serving it.
using StatsSnapshotFn = std::function<StatsSnapshot()>;

// Appends the complete response to `request` to `out`. Returns true when the connection
// must close once it is sent (the client asked, HTTP/1.0 without keep-alive, or the
// request had a body the server does not read).
bool append_stats_response(const HttpRequest& request, const StatsSnapshotFn& snapshot,
                           std::string& out);

// Appends an error response with "Connection: close" (400, 408, 414, 431, 503, 505...).
void append_error_response(int status, std::string& out);

// "Not Found" for 404 and so on; "Error" for codes it does not know.
std::string_view http_reason_phrase(int status);

}  // namespace arus
