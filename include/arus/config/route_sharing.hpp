// Which routes a new configuration has unchanged from the running one, so a reload builds
// and attaches only what changed (issue 19, "reload at scale, in place").
#pragma once

#include "arus/config/config.hpp"

namespace arus {

// True when `a` and `b` run the same: every setting a route's runtime, listener, stats rows
// and health checks are made of. Where they were written (line, key_lines, each backend's
// line) does not count: a route moved down the file by an edit above it runs the same.
// Filters are compared by name and arguments only; the file behind the name may have
// changed (the caller decides whether to load it again).
bool same_route_settings(const RouteConfig& a, const RouteConfig& b) noexcept;

// Each route of `next` written exactly as the route of the same name in `running` (its
// settings and its lines) becomes that route's object (RouteList::share): one copy of an
// unchanged route in memory, and its identity tells the snapshot builder and the stats
// table that nothing of it changed. Call before `next` is shared read-only. Returns how
// many routes were shared.
size_t share_unchanged_routes(Config& next, const Config& running);

// A copy of `running` whose routes are the running objects themselves (not copies): a
// DNS refresh replaces one (RouteList::share) and keeps the others as they run. Not to be
// edited through operator[] (see RouteList::share).
Config with_running_routes(const Config& running);

}  // namespace arus
