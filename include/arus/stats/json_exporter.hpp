// Renders a StatsSnapshot as the JSON document of GET /stats (its shape:
// docs/operations.md). Pure function of its input; thread-safe.
#pragma once

#include <string>

#include "arus/stats/stats_snapshot.hpp"

namespace arus {

inline constexpr const char* kJsonContentType = "application/json";

// One line of compact JSON ending in '\n'. Strings are escaped (control characters as
// \u00XX, invalid UTF-8 as \ufffd), so any route name yields valid JSON.
std::string render_json(const StatsSnapshot& snapshot);

}  // namespace arus
