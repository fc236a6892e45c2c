// Server's side of backend names that follow DNS: a refresh's answer (from
// dns_refresher_, on the control thread) either warns and keeps the last good addresses
// or, when the set changed, becomes a new generation built from the running
// configuration, published to the workers as a reload is (server_reload.cpp).
#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "arus/app/server.hpp"
#include "arus/config/backend_addresses.hpp"
#include "arus/config/route_sharing.hpp"
#include "arus/core/clock.hpp"
#include "arus/core/log.hpp"

namespace arus {

void Server::on_dns_answer(const std::string& route, const std::string& backend,
                           Result<std::vector<SocketAddress>> answer) noexcept {
  if (draining_) return;
  stats_->count_dns_resolution(route, backend, answer.ok());
  if (!answer) {
    log::warn("dns_failed")
        .kv("route", route)
        .kv("backend", backend)
        .kv("error", answer.error().message)
        .kv("action", "keeping the last good addresses");
    return;
  }
  try {
    if (Result<void> applied = apply_addresses(route, backend, answer.value()); !applied) {
      log::error("dns_update_failed")
          .kv("route", route)
          .kv("backend", backend)
          .kv("error", applied.error().message);
    }
  } catch (const std::exception& e) {  // out of memory: keep serving the running set
    log::error("dns_update_failed").kv("route", route).kv("backend", backend).kv("error", e.what());
  }
}

namespace {

std::string joined(const std::vector<SocketAddress>& addresses) {
  std::string out;
  for (const SocketAddress& address : addresses) {
    if (!out.empty()) out += ',';
    out += address.to_string();
  }
  return out.empty() ? "-" : out;
}

}  // namespace

Result<void> Server::apply_addresses(const std::string& route_name, const std::string& backend,
                                     const std::vector<SocketAddress>& answer) {
  const Config& running = *snapshot_->config;
  auto route = std::find_if(running.routes.begin(), running.routes.end(),
                            [&](const RouteConfig& r) { return r.name == route_name; });
  if (route == running.routes.end()) return {};
  std::vector<SocketAddress> current = line_addresses(*route, backend);
  if (current.empty()) return {};  // the line is no longer written
  AddressMerge merge = merge_addresses(current, answer);
  if (!merge.changed()) return {};
  uint64_t started_ms = monotonic_ms();
  // The running configuration with one route replaced: every other route is the running
  // one's object (not a copy of 5,000 routes), so all but it are reused as they run.
  auto next = std::make_shared<Config>(with_running_routes(running));
  const size_t changed_at = static_cast<size_t>(route - running.routes.begin());
  next->routes.share(changed_at, std::make_shared<const RouteConfig>(
                                     with_line_addresses(*route, backend, merge)));
  const RouteConfig& changed = next->routes[changed_at];
  ConfigPtr config = next;
  auto built = build_snapshot(config, snapshot_.get(), FilterLoad::kKeepRunning);
  if (!built) return std::move(built).error();

  // Commit: no listener changes, so every worker keeps its sockets where they are.
  uint64_t generation = stats_->apply(*config);
  attach_stats(**built, *stats_, generation);
  SnapshotPtr snapshot = std::move(*built);
  std::vector<std::shared_ptr<std::vector<UniqueFd>>> fresh(workers_.size());  // all null
  apply_limits(*snapshot);  // a new address gets the line's max_connections
  publish(snapshot, PendingReload{generation, "dns", started_ms, config->routes.size(), false},
          fresh);
  snapshot_ = snapshot;
  update_health_checks();  // new addresses are checked at once, vanished ones no more
  log::info("dns_updated")
      .kv("route", route_name)
      .kv("backend", backend)
      .kv("addresses", joined(line_addresses(changed, backend)))
      .kv("added", joined(merge.added))
      .kv("removed", joined(merge.removed))
      .kv("generation", generation);
  return {};
}

}  // namespace arus
