// Server's reload path: validate everything on the side, then swap; announce the new
// generation once every worker serves it. Control thread only; the file is read and its
// names looked up on resolver_'s thread.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include "arus/app/admin_endpoint.hpp"
#include "arus/app/listen_guard.hpp"
#include "arus/app/preflight.hpp"
#include "arus/app/reload_plan.hpp"
#include "arus/app/server.hpp"
#include "arus/config/config_relocation.hpp"
#include "arus/config/ini_loader.hpp"
#include "arus/config/route_sharing.hpp"
#include "arus/core/clock.hpp"
#include "arus/core/log.hpp"

namespace arus {

// How long a reload may wait for its names. glibc's own bound is timeout x attempts
// per server in resolv.conf (5 s x 2 each by default), often longer than a reload
// should stay pending.
constexpr uint64_t kReloadLookupTimeoutMs = 5000;

void Server::reload(ReloadTrigger trigger, AdminDone waiter) noexcept {
  if (draining_) {  // a draining proxy starts nothing new
    if (waiter) waiter(503, admin_error_json("draining"));
    return;
  }
  if (reload_loading_) {
    if (!reload_queued_ || *reload_queued_ == ReloadTrigger::kConfigFile) reload_queued_ = trigger;
    if (waiter) queued_reload_waiters_.push_back(std::move(waiter));
    log::debug("reload_queued").kv("reason", "a reload is waiting for name resolution");
    return;
  }
  // Those queued behind the last reload read the file this one reads.
  reload_waiters_ = std::move(queued_reload_waiters_);
  queued_reload_waiters_.clear();
  if (waiter) reload_waiters_.push_back(std::move(waiter));
  uint64_t started_ms = monotonic_ms();
  auto loaded = std::make_shared<std::optional<Result<Config>>>();
  ConfigPtr running = snapshot_->config;
  reload_loading_ = true;
  try {
    resolver_->start(
        // The running configuration is read-only: the sections the file still has written
        // the same are taken over on this thread, not parsed again; routes parsed equal to
        // running ones are shared here too, so the parse's copies are freed by the thread
        // that made them (free_parse says why).
        [running, loaded](const NameLookup& lookup) {
          Result<Config> config = load_config_file(running->path, lookup, running.get());
          if (config) share_unchanged_routes(*config, *running);
          loaded->emplace(std::move(config));
        },
        kReloadLookupTimeoutMs,
        [this, trigger, started_ms, loaded, running](Result<void> finished) {
          // The work's writes to `loaded` happen before its post, hence before this.
          if (!finished) {
            finish_reload(trigger, started_ms, std::move(finished).error(), running);
          } else {
            finish_reload(trigger, started_ms, std::move(**loaded), running);
          }
        });
  } catch (const std::exception& e) {  // no thread for it: fail this reload, keep serving
    finish_reload(trigger, started_ms, Error{std::string("reload: ") + e.what()}, running);
  }
}

void Server::finish_reload(ReloadTrigger trigger, uint64_t started_ms, Result<Config> loaded,
                           const ConfigPtr& shared_with) noexcept {
  reload_loading_ = false;
  std::vector<AdminDone> waiters = std::move(reload_waiters_);
  reload_waiters_.clear();
  if (draining_) {
    for (auto& waiter : waiters) waiter(503, admin_error_json("draining"));
    return;
  }
  size_t pending_before = pending_reloads_.size();
  Result<void> result = try_reload(trigger, started_ms, loaded, shared_with, !waiters.empty());
  if (loaded) free_parse(std::move(*loaded));
  if (!result) {
    stats_->count_reload(false);
    log::error("reload_failed").kv("error", result.error().message);
    for (auto& waiter : waiters) waiter(422, admin_error_json(result.error().message));
  } else if (pending_reloads_.size() > pending_before) {
    // Answered when every worker serves it (on_worker_adopted), as it is announced.
    PendingReload& applied = pending_reloads_.back();
    applied.waiters = std::move(waiters);
  } else {
    for (auto& waiter : waiters) {  // skipped as unchanged: nothing to wait for
      waiter(200, "{\"result\": \"ok\", \"generation\": " +
                      std::to_string(snapshot_->generation) + ", \"plan\": " +
                      render_plan_json(plan_reload(*snapshot_->config, *snapshot_->config,
                                                   live_connections())) +
                      "}");
    }
  }
  if (reload_queued_) {
    ReloadTrigger next = *reload_queued_;
    reload_queued_.reset();
    reload(next);
  }
}

// Each step that can fail runs before the first change. Of the commit at the end only
// starting the moved stats endpoint can fail (its socket is bound already); that is
// logged as stats_failed, and the rest of the reload stands.
Result<void> Server::try_reload(ReloadTrigger trigger, uint64_t started_ms, Result<Config>& loaded,
                                const ConfigPtr& shared_with, bool plan_wanted) {
  if (!loaded) return loaded.error();
  if (trigger == ReloadTrigger::kConfigFile && loaded->source == snapshot_->config->source) {
    log::debug("reload_skipped").kv("reason", "configuration unchanged");
    return {};
  }
  // As at start-up, before any filter is opened; `user` applies at the next start, so
  // the user to check for is the one the proxy runs as now.
  if (auto safe = check_filter_sources(*loaded, geteuid()); !safe) return std::move(safe).error();
  // An unchanged route is one object in both configurations: its runtime, stats rows and
  // per-worker tables are reused instead of built again (build_snapshot, StatsTable::apply).
  // Shared on the parse thread already (reload()), with the configuration running then; a
  // DNS refresh may have replaced it since.
  if (snapshot_->config != shared_with) share_unchanged_routes(*loaded, *snapshot_->config);
  // What lives on of the parse is copied out of the parse thread's heap, which is then
  // freed whole (free_parse).
  ConfigPtr config = std::make_shared<const Config>(relocated(*loaded));
  auto built = build_snapshot(config, snapshot_.get());
  if (!built) return std::move(built).error();

  // New listen addresses are probed, then bound, one socket per worker; a failure
  // changes nothing. Kept addresses are ours already and keep their sockets.
  const Config& running = *snapshot_->config;
  auto unheld = refuse_held_listen_addresses(*config, &running);
  if (!unheld) return std::move(unheld).error();
  // Per worker, a new socket for each route on an address not listened on yet; null for
  // all when every route listens where the route at its place did (nothing to walk).
  std::vector<std::shared_ptr<std::vector<UniqueFd>>> fresh(workers_.size());
  auto make_fresh = [&] {
    for (auto& sockets : fresh) {
      sockets = std::make_shared<std::vector<UniqueFd>>(config->routes.size());
    }
  };
  bool in_place = config->routes.size() == running.routes.size();
  if (!in_place) make_fresh();
  // The running addresses as a set only once a route does not listen where the route at
  // its place did: a reload that adds, removes or moves no route makes none.
  std::unordered_set<SocketAddress, SocketAddressHash> listening;
  auto kept = [&](size_t i, const SocketAddress& address) {
    if (i < running.routes.size() && running.routes[i].listen == address) return true;
    if (listening.empty()) {
      listening.reserve(running.routes.size());
      for (const RouteConfig& old : running.routes) listening.insert(old.listen);
    }
    return listening.contains(address);
  };
  for (size_t i = 0; i < config->routes.size(); ++i) {
    const RouteConfig& route = config->routes[i];
    if (in_place) {
      if (route.listen == running.routes[i].listen) continue;
      in_place = false;
      make_fresh();
    }
    if (kept(i, route.listen)) continue;
    for (auto& sockets : fresh) {
      auto fd = listen_for(*config, route);
      if (!fd) return std::move(fd).error();
      (*sockets)[i] = std::move(*fd);
    }
  }
  // Compared after resolution, as listeners are: "localhost:9090" respelt from
  // "127.0.0.1:9090" keeps its socket (binding it again would fail: it is in use).
  UniqueFd stats_fd;
  bool stats_moved = config->global.stats_listen != running.global.stats_listen;
  if (stats_moved && !config->global.stats_listen.empty()) {
    auto fd = stats_listener_for(*config);
    if (!fd) return std::move(fd).error();
    stats_fd = std::move(*fd);
  }

  UniqueFd admin_fd;
  const AdminConfig& next_admin = config->global.admin;
  const AdminConfig& now_admin = running.global.admin;
  bool admin_moved = next_admin.unix_path != now_admin.unix_path ||
                     !(next_admin.address == now_admin.address);
  if (admin_moved && next_admin.enabled()) {
    // The proxy runs as its run user by now: a new socket is born its own.
    auto fd = admin_listener_for(*config, geteuid(), getegid());
    if (!fd) return std::move(fd).error();
    admin_fd = std::move(*fd);
  }

  // The plan is made before the commit, against the configuration running until then, and
  // only for an answer: it lists every listener, so a file reload of thousands of routes
  // that nobody waits for makes none.
  std::string plan_json;
  if (plan_wanted) plan_json = render_plan_json(plan_reload(running, *config, live_connections()));

  // Commit.
  warn_restart_only_changes(*config);
  uint64_t generation = stats_->apply(*config);
  attach_stats(**built, *stats_, generation);
  SnapshotPtr snapshot = std::move(*built);
  global_admission_.set_limit(config->global.max_connections);
  apply_limits(*snapshot);
  if (!log_level_override_) log::set_level(config->global.log_level);
  static constexpr const char* kTriggerNames[] = {"SIGHUP", "config_file", "filter_file",
                                                  "admin"};
  publish(snapshot,
          PendingReload{generation, kTriggerNames[static_cast<int>(trigger)], started_ms,
                        config->routes.size(), true, {}, std::move(plan_json)},
          fresh);
  if (stats_moved) {
    // The old server may still have events queued in this batch: free it afterwards.
    std::shared_ptr<StatsServer> old(std::move(stats_server_));
    control_->defer([old] {});
    if (stats_fd) {
      StatsTable* table = stats_.get();
      auto server = StatsServer::create(*control_, std::move(stats_fd),
                                        [table] { return table->snapshot(); });
      if (server) {
        stats_server_ = std::move(*server);
      } else {
        log::error("stats_failed").kv("error", server.error().message);
      }
    }
  }
  if (admin_moved) {
    // As the stats server: its events of this batch come first. A POST /reload that moves
    // the admin listener loses its answer with it.
    std::shared_ptr<AdminServer> old(std::move(admin_server_));
    control_->defer([old] {});
    if (!admin_socket_path_.empty()) ::unlink(admin_socket_path_.c_str());
    admin_socket_path_.clear();
    if (admin_fd) {
      if (auto started = start_admin(std::move(admin_fd), *config); !started) {
        log::error("admin_failed").kv("error", started.error().message);
      }
    }
  }
  snapshot_ = snapshot;
  update_health_checks();
  watcher_->watch_filters(filter_paths());
  dns_refresher_->follow(*config);  // the file's own answers are the newest
  return {};
}

void Server::publish(const SnapshotPtr& snapshot, PendingReload pending,
                     const std::vector<std::shared_ptr<std::vector<UniqueFd>>>& fresh) {
  const uint64_t generation = pending.generation;
  pending_reloads_.push_back(std::move(pending));
  for (size_t w = 0; w < workers_.size(); ++w) {
    workers_[w]->adopt(snapshot, fresh[w], [this, w, generation] {
      control_->post([this, w, generation] { on_worker_adopted(w, generation); });
    });
  }
}

void Server::on_worker_adopted(size_t worker, uint64_t generation) noexcept {
  adopted_generation_[worker] = generation;
  uint64_t everywhere = *std::min_element(adopted_generation_.begin(), adopted_generation_.end());
  size_t done = 0;
  for (const PendingReload& reload : pending_reloads_) {
    if (reload.generation > everywhere) break;
    ++done;
    stats_->publish_generation(reload.generation);
    if (!reload.reload) continue;
    stats_->count_reload(true);
    log::info("reloaded")
        .kv("generation", reload.generation)
        .kv("routes", static_cast<uint64_t>(reload.routes))
        .kv("trigger", reload.trigger)
        .kv("duration_ms", monotonic_ms() - reload.started_ms);
    for (const AdminDone& waiter : reload.waiters) {
      waiter(200, "{\"result\": \"ok\", \"generation\": " + std::to_string(reload.generation) +
                      ", \"plan\": " + reload.plan_json + "}");
    }
  }
  pending_reloads_.erase(pending_reloads_.begin(), pending_reloads_.begin() + done);
  // Every worker has let go of the older generations (but those their connections hold).
  if (done > 0) return_freed_memory();
}

void Server::free_parse(Config parsed) noexcept {
  try {
    auto leftover = std::make_shared<Config>(std::move(parsed));
    resolver_->start(
        [leftover = std::move(leftover)](const NameLookup&) mutable { leftover.reset(); },
        kReloadLookupTimeoutMs, [this](Result<void>) { return_freed_memory(); });
  } catch (const std::exception&) {  // no thread: freed here, with the job
  }
}

void Server::return_freed_memory() noexcept { ::malloc_trim(0); }

void Server::warn_restart_only_changes(const Config& next) const {
  std::string keys;
  for (const std::string& key : restart_only_changes(snapshot_->config->global, next.global)) {
    keys += (keys.empty() ? "" : " ") + key;
  }
  if (keys.empty()) return;
  log::warn("reload_needs_restart").kv("keys", keys).kv("action", "applied at the next restart");
}

std::vector<std::string> Server::filter_paths() const {
  std::vector<std::string> paths;
  for (const auto& route : snapshot_->routes) {
    if (route->filter) paths.push_back(route->filter->plugin().source_path());
  }
  return paths;
}

}  // namespace arus
