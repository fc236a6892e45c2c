// Builds the shared per-route state of a configuration snapshot, filters included.
#include "arus/relay/route_runtime.hpp"

#include <string>

#include "arus/plugin/plugin_loader.hpp"

namespace arus {

RouteRuntime::RouteRuntime(const RouteConfig& route_config, FilterInstancePtr filter_instance,
                           std::shared_ptr<Admission> route_admission)
    : config(route_config),
      backends(make_backend_states(route_config.backends)),
      backend_count(route_config.backends.size()),
      filter(std::move(filter_instance)),
      admission(std::move(route_admission)) {}

Result<std::shared_ptr<Snapshot>> build_snapshot(ConfigPtr config, const Snapshot* previous) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->config = std::move(config);
  const Config& whole = *snapshot->config;
  for (const RouteConfig& route : whole.routes) {
    FilterInstancePtr filter;
    if (!route.filter.empty()) {
      // Named like every configuration error: file, line (the route's), section, key.
      std::string where =
          whole.path + ":" + std::to_string(route.line) + ": [route:" + route.name + "] filter: ";
      auto plugin = load_filter(whole.global.plugin_dir, route.filter);
      if (!plugin) return Error{where + plugin.error().message};
      auto instance = FilterInstance::create(std::move(*plugin), route.filter_args);
      if (!instance) return Error{where + instance.error().message};
      filter = std::move(*instance);
    }
    std::shared_ptr<Admission> admission;
    if (previous != nullptr) {
      for (const auto& old : previous->routes) {
        if (old->config.name == route.name) admission = old->admission;
      }
    }
    // A shared count keeps the old cap until the caller commits the reload (set_limit).
    if (!admission) admission = std::make_shared<Admission>(route.max_connections);
    snapshot->routes.push_back(
        std::make_unique<RouteRuntime>(route, std::move(filter), std::move(admission)));
  }
  return snapshot;
}

void attach_stats(Snapshot& snapshot, const StatsTable& stats, uint64_t generation) {
  snapshot.generation = generation;
  for (auto& route : snapshot.routes) route->counters = stats.counters_for(route->config);
}

}  // namespace arus
