// Builds the shared per-route state of a configuration snapshot, filters included.
#include "arus/runtime/snapshot_builder.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arus/config/backend_addresses.hpp"
#include "arus/config/config_error.hpp"
#include "arus/config/route_sharing.hpp"
#include "arus/core/clock.hpp"
#include "arus/core/place_lookup.hpp"
#include "arus/plugin/plugin_loader.hpp"
#include "arus/worker/admission.hpp"
#include "arus/worker/source_limits.hpp"

namespace arus {
namespace {

// Index of the first of the first `count` backends whose backend_key() is `key`, or -1.
int find_backend(const std::vector<BackendConfig>& backends, size_t count,
                 const std::string& key) {
  for (size_t i = 0; i < count; ++i) {
    if (backend_key(backends[i]) == key) return static_cast<int>(i);
  }
  return -1;
}

// One health state per (route, backend): a backend is the same across a reload or a DNS
// refresh when its route keeps its name and its backend_key() is the same (what its stats
// row is keyed by too): its HOST:PORT as written, and for a line written as a DNS name
// also the address, so an address that stays keeps its state. It then shares the running generation's BackendHealth object, not a copy, so a
// connect of the old generation that fails after the reload and a success of the new one
// meet in one state. Only the running generation is looked at: a backend removed by one
// reload and added back by a later one starts up, as a backend a reload adds. The same
// HOST:PORT twice in a route is one backend with one state (and one stats row).
// The open-connection count and cap (BackendSlots) are handed over the same way, so
// connections still open on the old generation count against the cap; the new cap
// applies when the caller commits (apply_backend_caps).
void share_backend_state(const RouteRuntime* kept, RouteRuntime& to) {
  for (size_t i = 0; i < to.backend_count; ++i) {
    const std::string key = backend_key(to.config.backends[i]);
    if (int same = find_backend(to.config.backends, i, key); same >= 0) {
      to.backends[i].health = to.backends[same].health;
      to.backends[i].slots = to.backends[same].slots;
    } else if (kept != nullptr) {
      int old = find_backend(kept->config.backends, kept->backend_count, key);
      if (old >= 0) {
        to.backends[i].health = kept->backends[old].health;
        to.backends[i].slots = kept->backends[old].slots;
      }
    }
  }
}

// The running runtime of a route that runs the same in the new configuration: reused as
// it is, with its backends' health, caps, queue, counts and stats rows, so a reload's cost
// follows what changed. A route with a filter is built again on a file reload (the filter
// file may have changed on disk, or plugin_dir), as before; a DNS refresh keeps it.
bool reusable(const RouteRuntime& kept, const RouteConfig& route, FilterLoad filters) {
  if (!route.filter.empty() && filters != FilterLoad::kKeepRunning) return false;
  return same_route_settings(kept.config, route);
}

}  // namespace

Result<std::shared_ptr<Snapshot>> build_snapshot(ConfigPtr config, const Snapshot* previous,
                                                 FilterLoad filters) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->config = std::move(config);
  const Config& whole = *snapshot->config;
  // The running generation's route of the same name.
  PlaceLookup<std::string_view> by_name;
  auto running = [&](size_t i, const std::string& name) -> const std::shared_ptr<RouteRuntime>* {
    if (previous == nullptr) return nullptr;
    const auto& routes = previous->routes;
    std::optional<size_t> at = by_name.find(i, name, routes.size(), [&](size_t j) {
      return std::string_view(routes[j]->config.name);
    });
    return at ? &routes[*at] : nullptr;
  };
  snapshot->routes.reserve(whole.routes.size());
  snapshot->reused_routes.resize(whole.routes.size());
  for (size_t i = 0; i < whole.routes.size(); ++i) {
    const RouteConfig& route = whole.routes[i];
    const std::shared_ptr<RouteRuntime>* found = running(i, route.name);
    const RouteRuntime* kept = found != nullptr ? found->get() : nullptr;
    if (kept != nullptr && reusable(*kept, route, filters)) {
      snapshot->routes.push_back(*found);
      snapshot->reused_routes[i] = true;
      continue;
    }
    FilterInstancePtr filter;
    if (filters == FilterLoad::kKeepRunning && kept != nullptr &&
        kept->config.filter == route.filter && kept->config.filter_args == route.filter_args) {
      filter = kept->filter;
    } else if (!route.filter.empty()) {
      // Named like every configuration error: file, the `filter` line, section, key.
      auto plugin = load_filter(whole.global.plugin_dir, route.filter);
      if (!plugin) return route_key_error(whole, route, "filter", plugin.error().message);
      auto instance = FilterInstance::create(std::move(*plugin), route.filter_args);
      if (!instance) return route_key_error(whole, route, "filter", instance.error().message);
      filter = std::move(*instance);
    }
    // A shared count keeps the old cap until the caller commits the reload (set_limit).
    std::shared_ptr<Admission> admission =
        kept != nullptr ? kept->admission : std::make_shared<Admission>(route.max_connections);
    auto runtime = std::make_shared<RouteRuntime>(route, std::move(filter), std::move(admission));
    runtime->config_owner = whole.routes.pointer(i);
    share_backend_state(kept, *runtime);
    if (kept != nullptr) runtime->queue = kept->queue;
    runtime->source_limits = kept != nullptr
                                 ? kept->source_limits
                                 : std::make_shared<SourceLimits>(route.limits, monotonic_ms());
    snapshot->routes.push_back(std::move(runtime));
  }
  return snapshot;
}

void apply_limits(const Snapshot& snapshot) {
  for (size_t r = 0; r < snapshot.routes.size(); ++r) {
    if (snapshot.reused(r)) continue;  // the running route's limits, unchanged
    const auto& route = snapshot.routes[r];
    route->admission->set_limit(route->config.max_connections);
    route->source_limits->set_config(route->config.limits);
    for (size_t i = 0; i < route->backend_count; ++i) {
      route->backends[i].slots->set_cap(route->config.backends[i].max_connections);
    }
    // A raised cap or an added backend may have room for clients already waiting.
    route->queue->serve();
  }
}

void attach_stats(Snapshot& snapshot, StatsTable& stats, uint64_t generation) {
  snapshot.generation = generation;
  for (size_t r = 0; r < snapshot.routes.size(); ++r) {
    // A runtime reused from the running snapshot is attached already, and workers read it:
    // its rows are the ones the table kept for its unchanged route (StatsTable::apply).
    auto& route = snapshot.routes[r];
    if (snapshot.reused(r) && route->counters.route) continue;
    route->counters = stats.counters_for(route->config);
    if (route->counters.route) stats.show_queue(*route->counters.route, route->queue);
    for (size_t i = 0; i < route->backend_count; ++i) {
      BackendStats* row = route->counters.backends[i].get();
      // Now that this generation is committed, /stats shows its weight.
      route->backends[i].health->admin.set_configured_weight(route->config.backends[i].weight);
      if (row == nullptr) continue;
      stats.show_health(*row, route->backends[i].health);
      stats.show_slots(*row, route->backends[i].slots);
    }
  }
}

}  // namespace arus
