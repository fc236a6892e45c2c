// RouteRuntime: what every worker shares about one route while a configuration is live:
// its settings, its backends' health and load, and its connection count. Snapshot: one
// configuration generation as the workers run it. Thread-safe: settings are immutable
// and the rest are atomics; shared through std::shared_ptr<const Snapshot>.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "arus/balance/backend_health.hpp"
#include "arus/balance/balancer.hpp"
#include "arus/config/config.hpp"
#include "arus/core/result.hpp"
#include "arus/plugin/filter_instance.hpp"
#include "arus/stats/stats_table.hpp"
#include "arus/relay/admission.hpp"

namespace arus {

struct RouteRuntime {
  RouteRuntime(const RouteConfig& route_config, FilterInstancePtr filter_instance,
               std::shared_ptr<Admission> route_admission);

  const RouteConfig& config;                 // lives in the Snapshot's Config
  std::unique_ptr<BackendState[]> backends;  // one per config.backends, same order
  size_t backend_count;
  FilterInstancePtr filter;     // null: the splice path
  RouteCounters counters;       // this route's stats rows (kept alive here); attach_stats
  // route max_connections. Shared with the previous snapshot's route of the same name, so
  // connections still open on the old configuration keep counting against the cap.
  std::shared_ptr<Admission> admission;
};

struct Snapshot {
  ConfigPtr config;
  uint64_t generation = 0;
  std::vector<std::unique_ptr<RouteRuntime>> routes;  // in config order
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

// Builds the runtime of `config`: loads and creates every route's filter. Fails, with
// the filter file and reason, when a filter does not load. Blocks on the file system and
// runs filter code: start-up and reload only. The result has no stats rows yet.
// `previous` (the running snapshot, or null) shares its per-route connection counts with
// routes that keep their name, and its backends' health objects with the backends they
// keep (same route name, same HOST:PORT): one health state per backend across reloads.
Result<std::shared_ptr<Snapshot>> build_snapshot(ConfigPtr config,
                                                 const Snapshot* previous = nullptr);

// Finds each route's stats rows in `stats` (which must have applied the snapshot's
// config), points each backend row's arus_backend_up at the backend's health, and sets
// the generation. Call before the snapshot is shared, at start-up or a reload's commit.
void attach_stats(Snapshot& snapshot, StatsTable& stats, uint64_t generation);

}  // namespace arus
