// RouteRuntime: what every worker shares about one route while a configuration is live:
// its settings, its backends' health and load, and its connection count. Snapshot: one
// configuration generation as the workers run it. Thread-safe: settings are immutable
// and the rest are atomics; shared through std::shared_ptr<const Snapshot>.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "arus/balance/backend_health.hpp"
#include "arus/balance/backend_queue.hpp"
#include "arus/balance/balancer.hpp"
#include "arus/config/config.hpp"
#include "arus/plugin/filter_instance.hpp"
#include "arus/stats/stats_table.hpp"

namespace arus {

class Admission;    // worker/admission.hpp: the relay only carries it for the worker
class SourceLimits; // worker/source_limits.hpp: likewise

struct RouteRuntime {
  RouteRuntime(const RouteConfig& route_config, FilterInstancePtr filter_instance,
               std::shared_ptr<Admission> route_admission);

  const RouteConfig& config;  // lives in config_owner, or the caller's
  // The object `config` lives in (Config::routes.pointer()): a runtime outlives the Config
  // it was built with when a reload reuses it for an unchanged route. Null in tests that
  // build a runtime by hand and keep its RouteConfig alive themselves.
  std::shared_ptr<const RouteConfig> config_owner;
  std::unique_ptr<BackendState[]> backends;  // one per config.backends, same order
  size_t backend_count;
  FilterInstancePtr filter;     // null: the splice path
  // This route's stats rows (kept alive here); set by attach_stats before the runtime is
  // shared, never after (a reused runtime keeps its rows: its route is unchanged).
  RouteCounters counters;
  // route max_connections. Shared with the previous snapshot's route of the same name, so
  // connections still open on the old configuration keep counting against the cap.
  std::shared_ptr<Admission> admission;
  // The clients waiting for a backend slot (queue_timeout_ms). Never null; shared with the
  // previous snapshot's route of the same name, so a reload keeps the waiting clients.
  std::shared_ptr<BackendQueue> queue = std::make_shared<BackendQueue>();
  // Per-source and rate limits (null: none, as in tests that build a runtime by hand).
  // Built by the snapshot builder for every route; shared like `queue`.
  std::shared_ptr<SourceLimits> source_limits;
};

struct Snapshot {
  ConfigPtr config;
  uint64_t generation = 0;
  // In config order. Shared: a reload's snapshot holds the very runtime of each route it
  // has unchanged (build_snapshot), so the generations alive at once share it.
  std::vector<std::shared_ptr<RouteRuntime>> routes;
  // Per route: true when routes[i] is the running snapshot's runtime, reused as it was
  // (attached to its stats rows, its limits applied). Empty: none (start-up, tests).
  std::vector<bool> reused_routes;

  bool reused(size_t i) const noexcept { return i < reused_routes.size() && reused_routes[i]; }
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace arus
