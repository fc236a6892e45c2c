// Comparing routes across a reload; sharing the unchanged ones.
#include "arus/config/route_sharing.hpp"

#include <string_view>
#include <unordered_map>

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
  std::unordered_map<std::string_view, size_t> by_name;
  by_name.reserve(running.routes.size());
  for (size_t i = 0; i < running.routes.size(); ++i) by_name.emplace(running.routes[i].name, i);
  size_t shared = 0;
  for (size_t i = 0; i < next.routes.size(); ++i) {
    const RouteConfig& route = next.routes[i];
    auto found = by_name.find(route.name);
    if (found == by_name.end()) continue;
    const RouteConfig& old = running.routes[found->second];
    if (route.line != old.line || route.key_lines != old.key_lines) continue;
    bool same_lines = true;
    for (size_t b = 0; same_lines && b < route.backends.size() && b < old.backends.size(); ++b) {
      same_lines = route.backends[b].line == old.backends[b].line;
    }
    if (!same_lines || !same_route_settings(route, old)) continue;
    next.routes.share(i, running.routes.pointer(found->second));
    ++shared;
  }
  return shared;
}

}  // namespace arus
