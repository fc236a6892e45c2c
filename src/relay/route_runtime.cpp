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

namespace {

const RouteRuntime* find_route(const Snapshot& snapshot, const std::string& name) {
  for (const auto& route : snapshot.routes) {
    if (route->config.name == name) return route.get();
  }
  return nullptr;
}

// A backend is the same across a reload when its HOST:PORT is written the same (the name
// its stats row has too). Its open-connection count is not carried: connections on the
// old configuration count down on the old state.
void carry_backend_health(const RouteRuntime& from, RouteRuntime& to) {
  for (size_t i = 0; i < to.backend_count; ++i) {
    for (size_t j = 0; j < from.backend_count; ++j) {
      if (from.config.backends[j].name == to.config.backends[i].name) {
        to.backends[i].health.copy_from(from.backends[j].health);
        break;
      }
    }
  }
}

}  // namespace

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
    const RouteRuntime* kept = previous != nullptr ? find_route(*previous, route.name) : nullptr;
    // A shared count keeps the old cap until the caller commits the reload (set_limit).
    std::shared_ptr<Admission> admission =
        kept != nullptr ? kept->admission : std::make_shared<Admission>(route.max_connections);
    auto runtime = std::make_unique<RouteRuntime>(route, std::move(filter), std::move(admission));
    if (kept != nullptr) carry_backend_health(*kept, *runtime);
    snapshot->routes.push_back(std::move(runtime));
  }
  return snapshot;
}

void attach_stats(Snapshot& snapshot, const StatsTable& stats, uint64_t generation) {
  snapshot.generation = generation;
  for (auto& route : snapshot.routes) route->counters = stats.counters_for(route->config);
}

}  // namespace arus
