// Renders a StatsSnapshot as Prometheus text exposition format 0.0.4 (GET /metrics).
// Pure function of its input; thread-safe.
#pragma once

#include <string>

#include "arus/stats/stats_snapshot.hpp"

namespace arus {

// Content-Type of render_prometheus() output.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Every family gets its HELP and TYPE lines, even with no sample; samples of one family
// are contiguous; label values are escaped.
std::string render_prometheus(const StatsSnapshot& snapshot);

}  // namespace arus
