// Building the runtime of a configuration: loads every route's filter, carries the
// per-route connection counts and backend health over from the running snapshot, and
// points the stats rows at them. Start-up, -t and reload only (file system, filter code);
// call from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>

#include "arus/config/config.hpp"
#include "arus/core/result.hpp"
#include "arus/relay/route_runtime.hpp"
#include "arus/stats/stats_table.hpp"

namespace arus {

// Builds the runtime of `config`: loads and creates every route's filter. Fails, with
// the filter file and reason, when a filter does not load. Blocks on the file system and
// runs filter code: start-up and reload only. The result has no stats rows yet.
// `previous` (the running snapshot, or null) lends its very runtime to each route that
// runs the same (same_route_settings; a route with a filter only on a DNS refresh),
// marked in Snapshot::reused_routes: only changed routes are built. With those it shares
// its per-route connection counts when they keep their name, and its backends' health
// objects with the backends they keep (same route name, same HOST:PORT): one health
// state per backend across reloads.
// kKeepRunning (a DNS refresh: same file, new addresses) reuses `previous`'s filter
// instance for every route whose filter and filter_args are unchanged instead of loading
// the filter file again.
enum class FilterLoad { kLoad, kKeepRunning };
Result<std::shared_ptr<Snapshot>> build_snapshot(ConfigPtr config,
                                                 const Snapshot* previous = nullptr,
                                                 FilterLoad filters = FilterLoad::kLoad);

// A reload's commit: the caps of `snapshot`'s routes built anew (route max_connections,
// backends' max_connections) replace the ones their shared counts carried over, and each
// such route's queue is served, since a raised cap may make room. Any thread.
void apply_limits(const Snapshot& snapshot);

// Finds each built (not reused) route's stats rows in `stats` (which must have applied
// the snapshot's config), points each backend row's arus_backend_up at the backend's
// health, and sets the generation. Call before the snapshot is shared, at start-up or a
// reload's commit.
void attach_stats(Snapshot& snapshot, StatsTable& stats, uint64_t generation);

}  // namespace arus
