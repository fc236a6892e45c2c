// The listen guard: every new listen address is probed before the first bind, so a port
// another process holds is a start or reload error instead of a silent SO_REUSEPORT share.
#include "arus/app/listen_guard.hpp"

#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "arus/config/config_error.hpp"
#include "arus/net/listen_probe.hpp"

namespace arus {

namespace {

int line_of(const KeyLines& lines, const char* key, int otherwise) {
  auto it = lines.find(key);
  return it != lines.end() ? it->second : otherwise;
}

}  // namespace

ListenKey route_listen_key(const RouteConfig& route) {
  return ListenKey{"[route:" + route.name + "]", "listen",
                   line_of(route.key_lines, "listen", route.line), route.listen};
}

ListenKey stats_listen_key(const GlobalConfig& global) {
  return ListenKey{"[global]", "stats_listen", line_of(global.key_lines, "stats_listen", global.line),
                   global.stats_listen};
}

std::vector<ListenKey> listen_keys(const Config& config) {
  std::vector<ListenKey> keys;
  for (const RouteConfig& route : config.routes) keys.push_back(route_listen_key(route));
  if (!config.global.stats_listen.empty()) keys.push_back(stats_listen_key(config.global));
  return keys;
}

Error listen_error(const Config& config, const ListenKey& key, const std::string& reason) {
  return config_error(config.path, key.line, key.section, key.key, reason);
}

Result<void> refuse_held_listen_addresses(const Config& next, const Config* running) {
  // Our addresses by port: only those on the same port can overlap (thousands of routes
  // would otherwise cost routes x routes comparisons).
  // Made at the first address not held by the running route at its place: a reload that
  // adds, removes or moves no route makes none.
  std::unordered_multimap<uint16_t, SocketAddress> held_by_us;
  auto ours = [&](const SocketAddress& address, size_t place) {
    if (running == nullptr) return false;
    if (place < running->routes.size() && running->routes[place].listen == address) return true;
    if (held_by_us.empty()) {
      held_by_us.reserve(running->routes.size() + 1);
      for (const RouteConfig& own : running->routes) {
        held_by_us.emplace(own.listen.port(), own.listen);
      }
      if (!running->global.stats_listen.empty()) {
        held_by_us.emplace(running->global.stats_listen.port(), running->global.stats_listen);
      }
    }
    auto [first, last] = held_by_us.equal_range(address.port());
    return std::any_of(first, last,
                       [&](const auto& own) { return binds_overlap(own.second, address); });
  };
  // Every probe runs before the caller binds anything: at start, a route on 127.0.0.1:P
  // next to one on 0.0.0.0:P would otherwise meet our own socket and be refused. A key
  // (its section's name, its line) is made only for an address probed: a reload of
  // thousands of kept listeners makes none.
  auto probe = [&](const SocketAddress& address, size_t place, auto make_key) -> Result<void> {
    if (ours(address, place)) return {};
    Result<void> probed = probe_listen_address(address);
    if (!probed) return listen_error(next, make_key(), probed.error().message);
    return {};
  };
  for (size_t i = 0; i < next.routes.size(); ++i) {
    const RouteConfig& route = next.routes[i];
    auto checked = probe(route.listen, i, [&] { return route_listen_key(route); });
    if (!checked) return checked;
  }
  if (!next.global.stats_listen.empty()) {
    return probe(next.global.stats_listen, SIZE_MAX,
                 [&] { return stats_listen_key(next.global); });
  }
  return {};
}

}  // namespace arus
