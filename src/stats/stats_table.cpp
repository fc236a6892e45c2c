// StatsTable: row reconciliation on apply() (exclusive lock) and shard sums for
// snapshots (shared lock). Counting itself never enters this file: it is inline atomics.
#include "arus/stats/stats_table.hpp"

#include <algorithm>
#include <mutex>

#include "arus/balance/backend_health.hpp"
#include "arus/balance/backend_queue.hpp"
#include "arus/balance/backend_slots.hpp"
#include "arus/config/backend_addresses.hpp"
#include "arus/core/clock.hpp"
#include "arus/core/log.hpp"

namespace arus {
namespace {

int64_t sum_active(const std::unique_ptr<RouteShard[]>& shards, unsigned count) {
  int64_t total = 0;
  for (unsigned i = 0; i < count; ++i) {
    total += shards[i].connections_active.load(std::memory_order_relaxed);
  }
  return total;
}

}  // namespace

BackendSnapshot StatsTable::sum_backend(BackendStats& row, unsigned shard_count) {
  BackendSnapshot out;
  out.name = row.name();
  out.address = row.address();
  out.up = row.health_ == nullptr || row.health_->marked_up();
  if (row.health_ != nullptr) {
    out.checks_ok = row.health_->checks_ok();
    out.checks_failed = row.health_->checks_failed();
    out.state_changes = row.health_->state_changes();
    out.last_error = row.health_->last_error();
    out.admin_state = std::string(admin_state_name(row.health_->admin.state()));
    out.weight = row.health_->admin.effective_weight();
  }
  out.max_connections = row.slots_ == nullptr ? 0 : row.slots_->cap();
  for (unsigned i = 0; i < shard_count; ++i) {
    const BackendShard& s = row.shard(i);
    out.connections_total += s.connections_total.load(std::memory_order_relaxed);
    out.connect_errors_total += s.connect_errors_total.load(std::memory_order_relaxed);
    out.connections_active += s.connections_active.load(std::memory_order_relaxed);
  }
  return out;
}

BackendStats::BackendStats(std::string key, std::string name, std::string address,
                           unsigned shard_count)
    : key_(std::move(key)),
      name_(std::move(name)),
      address_(std::move(address)),
      shard_count_(shard_count),
      shards_(std::make_unique<BackendShard[]>(shard_count)) {}

RouteStats::RouteStats(std::string name, unsigned shard_count)
    : name_(std::move(name)),
      shard_count_(shard_count),
      shards_(std::make_unique<RouteShard[]>(shard_count)) {}

StatsTable::StatsTable(unsigned workers, std::string version)
    : workers_(workers),
      version_(std::move(version)),
      start_time_seconds_(static_cast<double>(wall_clock_ms()) / 1000.0) {}

std::shared_ptr<RouteStats> StatsTable::take_row(const std::string& name) {
  if (auto it = index_.find(name); it != index_.end()) return it->second;
  auto retired = std::find_if(retired_.begin(), retired_.end(),
                              [&](const auto& row) { return row->name() == name; });
  if (retired != retired_.end()) {
    // Still held by draining connections: reviving keeps its series monotonic instead of
    // exporting a second row with the same labels.
    std::shared_ptr<RouteStats> row = std::move(*retired);
    retired_.erase(retired);
    return row;
  }
  return std::make_shared<RouteStats>(name, shard_count());
}

void StatsTable::reconcile_backends(RouteStats& row, const RouteConfig& route) {
  std::vector<std::shared_ptr<BackendStats>> next;
  next.reserve(route.backends.size());
  // Entries already moved into `next` are null.
  auto keyed = [](std::string_view key) {
    return [key](const std::shared_ptr<BackendStats>& b) { return b && b->key() == key; };
  };
  for (const BackendConfig& backend : route.backends) {
    const std::string key = backend_key(backend);
    // The same HOST:PORT twice in a route would be one series anyway: share the row.
    if (std::any_of(next.begin(), next.end(), keyed(key))) continue;
    auto live = std::find_if(row.backends_.begin(), row.backends_.end(), keyed(key));
    if (live != row.backends_.end()) {
      next.push_back(std::move(*live));
      continue;
    }
    auto old = std::find_if(row.retired_backends_.begin(), row.retired_backends_.end(), keyed(key));
    if (old != row.retired_backends_.end()) {
      next.push_back(std::move(*old));
      row.retired_backends_.erase(old);
      continue;
    }
    next.push_back(std::make_shared<BackendStats>(
        key, backend.name, backend.by_name ? backend.address.to_string() : std::string(),
        shard_count()));
  }
  for (auto& old : row.backends_) {
    if (old) row.retired_backends_.push_back(std::move(old));  // moved-from = kept above
  }
  row.backends_ = std::move(next);
}

void StatsTable::prune_retired() {
  // use_count() == 1 under the exclusive lock means only this table holds the row, and
  // nobody can take a new reference (retired rows are not findable): nothing counts on it.
  auto unheld = [](const auto& row) { return row.use_count() == 1; };
  for (auto& row : routes_) {
    std::erase_if(row->retired_backends_, unheld);
  }
  for (auto& row : retired_) {
    std::erase_if(row->retired_backends_, unheld);
  }
  std::erase_if(retired_, unheld);
}

uint64_t StatsTable::apply(const Config& config) {
  std::unique_lock lock(mutex_);
  if (!apply_in_place(config)) apply_reordered(config);
  prune_retired();
  prune_dns_counts(config);
  return ++generation_;
}

// The row of a route needs its listen address and backends again only when the route is
// another object than the one it was last applied from (RouteList::share).
void StatsTable::reconcile_row(RouteStats& row, const std::shared_ptr<const RouteConfig>& route) {
  if (!row.retired_ && row.applied_ == route) return;
  row.retired_ = false;
  row.listen_ = route->listen_name;
  reconcile_backends(row, *route);
  row.applied_ = route;
}

bool StatsTable::apply_in_place(const Config& config) {
  // The same route names in the same order (a reload that adds, removes or moves no
  // route): the rows and the index stand, and only the changed routes' rows are touched.
  if (config.routes.size() != routes_.size()) return false;
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i]->applied_.get() != &config.routes[i] &&
        routes_[i]->name() != config.routes[i].name) {
      return false;
    }
  }
  for (size_t i = 0; i < routes_.size(); ++i) reconcile_row(*routes_[i], config.routes.pointer(i));
  return true;
}

void StatsTable::apply_reordered(const Config& config) {
  std::vector<std::shared_ptr<RouteStats>> next;
  std::unordered_map<std::string_view, std::shared_ptr<RouteStats>> next_index;
  next.reserve(config.routes.size());
  for (size_t i = 0; i < config.routes.size(); ++i) {
    const RouteConfig& route = config.routes[i];
    if (next_index.count(route.name) != 0) continue;  // duplicates are refused by the loader
    std::shared_ptr<RouteStats> row = take_row(route.name);
    reconcile_row(*row, config.routes.pointer(i));
    next_index.emplace(row->name(), row);
    next.push_back(std::move(row));
  }
  for (auto& row : routes_) {
    if (next_index.count(row->name()) != 0) continue;
    row->retired_ = true;
    retired_.push_back(row);
  }
  index_.clear();  // drop references before routes_ so no key outlives its row
  routes_ = std::move(next);
  index_ = std::move(next_index);
}

void StatsTable::prune_dns_counts(const Config& config) {
  std::lock_guard lock(dns_mutex_);
  std::erase_if(dns_counts_, [&config](const auto& entry) {
    const auto& [route_name, backend_name] = entry.first;
    for (const RouteConfig& route : config.routes) {
      if (route.name != route_name) continue;
      return std::none_of(
          route.backends.begin(), route.backends.end(),
          [&](const BackendConfig& b) { return b.by_name && b.name == backend_name; });
    }
    return true;
  });
}

void StatsTable::count_reload(bool ok) noexcept { stats_add(ok ? reloads_ok_ : reloads_error_); }

void StatsTable::count_dns_resolution(const std::string& route, const std::string& backend,
                                      bool ok) {
  std::lock_guard lock(dns_mutex_);
  DnsCounts& counts = dns_counts_[{route, backend}];
  ++(ok ? counts.ok : counts.error);
}

RouteCounters StatsTable::counters_for(const RouteConfig& route) const {
  RouteCounters out;
  out.backends.reserve(route.backends.size());
  std::shared_lock lock(mutex_);
  auto it = index_.find(route.name);
  if (it != index_.end()) out.route = it->second;
  for (const BackendConfig& backend : route.backends) {
    std::shared_ptr<BackendStats> found;
    if (out.route) {
      const std::string key = backend_key(backend);
      for (const auto& row : out.route->backends_) {
        if (row->key() == key) found = row;
      }
    }
    out.backends.push_back(std::move(found));
  }
  return out;
}

void StatsTable::show_health(BackendStats& row, std::shared_ptr<const BackendHealth> health) {
  std::unique_lock lock(mutex_);
  row.health_ = std::move(health);
}

void StatsTable::show_slots(BackendStats& row, std::shared_ptr<const BackendSlots> slots) {
  std::unique_lock lock(mutex_);
  row.slots_ = std::move(slots);
}

void StatsTable::show_queue(RouteStats& row, std::shared_ptr<const BackendQueue> queue) {
  std::unique_lock lock(mutex_);
  row.queue_ = std::move(queue);
}

std::map<std::string, uint64_t, std::less<>> StatsTable::active_connections() const {
  std::map<std::string, uint64_t, std::less<>> out;
  std::shared_lock lock(mutex_);
  for (const auto& row : routes_) {
    int64_t active = sum_active(row->shards_, shard_count());
    out.emplace(row->name(), static_cast<uint64_t>(std::max<int64_t>(0, active)));
  }
  return out;
}

StatsSnapshot StatsTable::snapshot() const {
  StatsSnapshot out;
  out.version = version_;
  out.start_time_seconds = start_time_seconds_;
  out.reloads_ok = reloads_ok_.load(std::memory_order_relaxed);
  out.reloads_error = reloads_error_.load(std::memory_order_relaxed);
  out.log_lines_dropped = log::dropped_lines();
  out.worker_connections_active.assign(workers_, 0);

  std::shared_lock lock(mutex_);
  out.generation = published_generation_.load(std::memory_order_relaxed);
  auto add_route = [&](RouteStats& row) {
    const unsigned shards = shard_count();
    // Every row, exported or not, holds its workers' active connections.
    for (unsigned w = 0; w < workers_; ++w) {
      out.worker_connections_active[w] +=
          row.shards_[w].connections_active.load(std::memory_order_relaxed);
    }
    if (row.retired_ && sum_active(row.shards_, shards) <= 0) return;
    RouteSnapshot& r = out.routes.emplace_back();
    r.name = row.name();
    r.listen = row.listen_;
    r.retired = row.retired_;
    for (unsigned i = 0; i < shards; ++i) {
      const RouteShard& s = row.shards_[i];
      r.connections_total += s.connections_total.load(std::memory_order_relaxed);
      r.connections_active += s.connections_active.load(std::memory_order_relaxed);
      r.bytes_client_to_backend += s.bytes_client_to_backend.load(std::memory_order_relaxed);
      r.bytes_backend_to_client += s.bytes_backend_to_client.load(std::memory_order_relaxed);
      r.refused_route_limit += s.refused_route_limit.load(std::memory_order_relaxed);
      r.refused_global_limit += s.refused_global_limit.load(std::memory_order_relaxed);
      r.refused_fds += s.refused_fds.load(std::memory_order_relaxed);
      r.timeouts_connect += s.timeouts_connect.load(std::memory_order_relaxed);
      r.timeouts_idle += s.timeouts_idle.load(std::memory_order_relaxed);
      r.filter_closed += s.filter_closed.load(std::memory_order_relaxed);
      r.proxy_header_errors += s.proxy_header_errors.load(std::memory_order_relaxed);
      r.refused_backend_limit += s.refused_backend_limit.load(std::memory_order_relaxed);
      r.refused_source_limit += s.refused_source_limit.load(std::memory_order_relaxed);
      r.refused_rate_limit += s.refused_rate_limit.load(std::memory_order_relaxed);
      r.refused_source_rate_limit +=
          s.refused_source_rate_limit.load(std::memory_order_relaxed);
      r.queue_timeouts += s.queue_timeouts.load(std::memory_order_relaxed);
    }
    r.queue_length = row.queue_ == nullptr ? 0 : row.queue_->length();
    // A live route shows every configured backend; a retired one only those still busy.
    for (const auto& b : row.backends_) {
      BackendSnapshot s = sum_backend(*b, shards);
      if (!row.retired_ || s.connections_active > 0) r.backends.push_back(std::move(s));
    }
    for (const auto& b : row.retired_backends_) {
      BackendSnapshot s = sum_backend(*b, shards);
      if (s.connections_active > 0) r.backends.push_back(std::move(s));
    }
  };
  for (const auto& row : routes_) add_route(*row);
  for (const auto& row : retired_) add_route(*row);
  std::lock_guard dns_lock(dns_mutex_);
  for (const auto& [where, counts] : dns_counts_) {
    out.dns_resolutions.push_back(
        DnsResolutionSnapshot{where.first, where.second, counts.ok, counts.error});
  }
  return out;
}

}  // namespace arus
