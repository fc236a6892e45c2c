// Comparing routes across a reload; sharing the unchanged ones.
#include "arus/config/route_sharing.hpp"

#include <string_view>

#include "arus/core/place_lookup.hpp"

namespace arus {
namespace {

bool same_backend(const BackendConfig& a, const BackendConfig& b) noexcept {
  return a.name == b.name && a.address == b.address && a.weight == b.weight &&
         a.max_connections == b.max_connections && a.by_name == b.by_name;
}

// A field added to RouteConfig or BackendConfig must be compared above or below (or said
// here why not): a reload would otherwise keep a route's old runtime when only that field
// changed.
static_assert(sizeof(RouteConfig) == 472 && sizeof(BackendConfig) == 80,
              "RouteConfig changed: compare the new field in same_route_settings");
// with_running_routes() copies every field but the routes one by one.
static_assert(sizeof(Config) == 2 * sizeof(std::string) + sizeof(GlobalConfig) +
                                    sizeof(RouteList<RouteConfig>),
              "Config changed: copy the new field in with_running_routes");

}  // namespace

bool same_route_settings(const RouteConfig& a, const RouteConfig& b) noexcept {
  if (&a == &b) return true;
  if (a.backends.size() != b.backends.size()) return false;
  for (size_t i = 0; i < a.backends.size(); ++i) {
    if (!same_backend(a.backends[i], b.backends[i])) return false;
  }
  return a.name == b.name && a.listen_name == b.listen_name && a.listen == b.listen &&
         a.balance == b.balance && a.filter == b.filter && a.filter_args == b.filter_args &&
         a.connect_timeout_ms == b.connect_timeout_ms && a.idle_timeout_ms == b.idle_timeout_ms &&
         a.retries == b.retries && a.max_connections == b.max_connections &&
         a.proxy_protocol == b.proxy_protocol && a.health_check == b.health_check &&
         a.limits == b.limits && a.dns == b.dns;
}

size_t share_unchanged_routes(Config& next, const Config& running) {
  // The loader shares most routes already (section_reuse.hpp), in the same order.
  PlaceLookup<std::string_view> by_name;
  auto running_index = [&](size_t i) {
    return by_name.find(i, next.routes[i].name, running.routes.size(),
                        [&](size_t r) { return std::string_view(running.routes[r].name); });
  };
  size_t shared = 0;
  for (size_t i = 0; i < next.routes.size(); ++i) {
    const RouteConfig& route = next.routes[i];
    std::optional<size_t> found = running_index(i);
    if (!found) continue;
    const RouteConfig& old = running.routes[*found];
    if (&route == &old) {
      ++shared;
      continue;
    }
    if (route.line != old.line || route.key_lines != old.key_lines) continue;
    bool same_lines = true;
    for (size_t b = 0; same_lines && b < route.backends.size() && b < old.backends.size(); ++b) {
      same_lines = route.backends[b].line == old.backends[b].line;
    }
    if (!same_lines || !same_route_settings(route, old)) continue;
    next.routes.share(i, running.routes.pointer(*found));
    ++shared;
  }
  return shared;
}

Config with_running_routes(const Config& running) {
  Config copy;
  copy.path = running.path;
  copy.source = running.source;
  copy.global = running.global;
  copy.routes.reserve(running.routes.size());
  for (size_t i = 0; i < running.routes.size(); ++i) copy.routes.push_shared(running.routes.pointer(i));
  return copy;
}

}  // namespace arus
