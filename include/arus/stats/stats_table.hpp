// StatsTable: per-route and per-backend counters. The row set is guarded by a
// std::shared_mutex (lookups and snapshots share it, apply() and show_health() take it
// exclusively); the counters themselves are relaxed atomics, sharded per worker on
// separate cache lines. arus_backend_up is read from the backend's health at snapshot.
#pragma once

#include <atomic>
#include <cassert>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "arus/config/config.hpp"
#include "arus/stats/stats_snapshot.hpp"

namespace arus {

class BackendHealth;  // arus/balance/backend_health.hpp
class BackendSlots;   // arus/balance/backend_slots.hpp
class BackendQueue;   // arus/balance/backend_queue.hpp

inline constexpr size_t kCacheLineBytes = 64;

// Adds to a counter from the hot path. Relaxed: each counter is an independent tally that
// orders nothing; readers only need every add to land eventually.
inline void stats_add(std::atomic<uint64_t>& counter, uint64_t n = 1) noexcept {
  counter.fetch_add(n, std::memory_order_relaxed);
}
inline void stats_add(std::atomic<int64_t>& gauge, int64_t n) noexcept {
  gauge.fetch_add(n, std::memory_order_relaxed);
}

// One worker's share of a route's counters. Written only by that worker; alignas keeps
// two workers' shares off one cache line, so counting never bounces a line between cores.
struct alignas(kCacheLineBytes) RouteShard {
  std::atomic<uint64_t> connections_total{0};  // +1 per accepted client, refused included
  std::atomic<int64_t> connections_active{0};  // +1 at accept, -1 at close; refused: untouched
  std::atomic<uint64_t> bytes_client_to_backend{0};  // bytes read from the client
  std::atomic<uint64_t> bytes_backend_to_client{0};  // bytes read from the backend
  std::atomic<uint64_t> refused_route_limit{0};      // closed at once: route max_connections
  std::atomic<uint64_t> refused_global_limit{0};     // closed at once: global max_connections
  std::atomic<uint64_t> refused_fds{0};              // closed at once: no file descriptor left
  std::atomic<uint64_t> timeouts_connect{0};         // +1 per connect attempt timed out
  std::atomic<uint64_t> timeouts_idle{0};            // +1 per connection closed as idle
  std::atomic<uint64_t> filter_closed{0};            // +1 per connection the filter closed
  std::atomic<uint64_t> proxy_header_errors{0};      // +1 per client closed for its PROXY header
  std::atomic<uint64_t> refused_backend_limit{0};    // closed at once: backends full, no queue
  std::atomic<uint64_t> refused_source_limit{0};     // max_connections_per_source
  std::atomic<uint64_t> refused_rate_limit{0};       // rate_limit
  std::atomic<uint64_t> refused_source_rate_limit{0};  // rate_limit_per_source
  std::atomic<uint64_t> queue_timeouts{0};           // +1 per client closed by queue_timeout_ms
};

struct alignas(kCacheLineBytes) BackendShard {
  std::atomic<uint64_t> connections_total{0};     // +1 per connect that succeeded
  std::atomic<uint64_t> connect_errors_total{0};  // +1 per connect attempt failed/timed out
  std::atomic<int64_t> connections_active{0};     // +1 when connected, -1 when closed
};

// One backend of one route. Created by StatsTable; a holder of the shared_ptr may count
// on it from its own worker shard at any time, even after a reload retired it.
class BackendStats {
 public:
  // `key`: backend_key(); `name`: HOST:PORT as written (the `backend` label); `address`:
  // IP:PORT for an address of a line written as a DNS name, empty for a literal line.
  BackendStats(std::string key, std::string name, std::string address, unsigned shard_count);

  const std::string& key() const noexcept { return key_; }
  const std::string& name() const noexcept { return name_; }
  const std::string& address() const noexcept { return address_; }
  BackendShard& shard(unsigned index) noexcept {
    assert(index < shard_count_);
    return shards_[index];
  }

 private:
  friend class StatsTable;
  const std::string key_;
  const std::string name_;
  const std::string address_;
  const unsigned shard_count_;
  std::unique_ptr<BackendShard[]> shards_;
  // Guarded by StatsTable::mutex_: the backend's health, read at every snapshot for
  // arus_backend_up, so the gauge is the health state itself, never a copy that could
  // drift from it. Null (reported up) until StatsTable::show_health().
  std::shared_ptr<const BackendHealth> health_;
  // Guarded by StatsTable::mutex_: the backend's cap, read at every snapshot. Null: none.
  std::shared_ptr<const BackendSlots> slots_;
};

// One route. Same lifetime rules as BackendStats.
class RouteStats {
 public:
  RouteStats(std::string name, unsigned shard_count);

  const std::string& name() const noexcept { return name_; }
  RouteShard& shard(unsigned index) noexcept {
    assert(index < shard_count_);
    return shards_[index];
  }

 private:
  friend class StatsTable;
  const std::string name_;
  const unsigned shard_count_;
  std::unique_ptr<RouteShard[]> shards_;
  // Guarded by StatsTable::mutex_:
  std::string listen_;
  bool retired_ = false;
  std::vector<std::shared_ptr<BackendStats>> backends_;          // config order
  std::vector<std::shared_ptr<BackendStats>> retired_backends_;  // removed, maybe still held
  // The route object the rows were last reconciled with. The same object at the next
  // apply() (a reload shares an unchanged route's object: RouteList::share) has the same
  // backends: nothing to reconcile. Held, so its address cannot be reused by another.
  std::shared_ptr<const RouteConfig> applied_;
  std::shared_ptr<const BackendQueue> queue_;  // arus_queue_length; null: 0
};

// What a worker counts on for one route, looked up once per config generation (not per
// connection, never per chunk). backends[i] belongs to RouteConfig::backends[i].
struct RouteCounters {
  std::shared_ptr<RouteStats> route;                    // null: route not in the table
  std::vector<std::shared_ptr<BackendStats>> backends;  // null entries likewise
};

class StatsTable {
 public:
  // `workers` worker threads count on shards 0..workers-1, one each.
  StatsTable(unsigned workers, std::string version);
  StatsTable(const StatsTable&) = delete;
  StatsTable& operator=(const StatsTable&) = delete;

  unsigned workers() const noexcept { return workers_; }
  unsigned shard_count() const noexcept { return workers_; }

  // Exclusive lock. Makes the row set match `config`: rows of new routes and backends
  // start at 0, rows whose name survives keep their counters (a route removed and added
  // back while still held revives too), rows no longer configured are retired. Returns
  // the new config generation (1 after the first call); arus_config_generation shows it
  // only once publish_generation() says every worker serves it.
  // Retired rows stay exported while they have active connections, and are freed at a
  // later apply() once nobody outside the table holds them.
  uint64_t apply(const Config& config);

  // arus_config_generation: the generation every worker now serves. Any thread.
  void publish_generation(uint64_t generation) noexcept {
    published_generation_.store(generation, std::memory_order_relaxed);
  }

  // arus_reloads_total{result}: call once per reload attempt (not for the start-up load).
  void count_reload(bool ok) noexcept;

  // arus_dns_resolutions_total{route,backend,result}: one refresh of the backend line
  // written as `backend` (NAME:PORT) in `route`. Any thread; its own lock. Series of
  // lines no longer configured are dropped at the next apply().
  void count_dns_resolution(const std::string& route, const std::string& backend, bool ok);

  // Shared lock, once: the route's live row and its backends' rows in config order (null
  // when not in the table). Keep the shared_ptrs for as long as you count on them: that
  // is what keeps a retired row alive.
  RouteCounters counters_for(const RouteConfig& route) const;

  // Exclusive lock. From now on `row` reports `health` as arus_backend_up (and /stats
  // "up"), read at each snapshot. A reload points a kept backend's row at the object it
  // already showed, and a revived row (its backend added back) at its new one.
  void show_health(BackendStats& row, std::shared_ptr<const BackendHealth> health);

  // Exclusive lock. From now on `row` reports the cap of `slots` (/stats
  // "max_connections"), and a route row the length of `queue` (arus_queue_length).
  void show_slots(BackendStats& row, std::shared_ptr<const BackendSlots> slots);
  void show_queue(RouteStats& row, std::shared_ptr<const BackendQueue> queue);

  // Shared lock: sums every shard of every exported row. Any thread.
  StatsSnapshot snapshot() const;

  // Client connections open per live route (never below 0): what a reload plan reports
  // staying on the old generation, without summing every other counter. Any thread.
  std::map<std::string, uint64_t, std::less<>> active_connections() const;

 private:
  std::shared_ptr<RouteStats> take_row(const std::string& name);
  // apply()'s two ways: in place when the routes are the rows' (same names, same order),
  // else rows found or made by name. Under the exclusive lock.
  bool apply_in_place(const Config& config);
  void apply_reordered(const Config& config);
  void reconcile_row(RouteStats& row, const std::shared_ptr<const RouteConfig>& route);
  void reconcile_backends(RouteStats& row, const RouteConfig& route);
  void prune_retired();
  void prune_dns_counts(const Config& config);  // takes dns_mutex_
  // With mutex_ held (shared is enough): a backend row's shard sums and its health.
  static BackendSnapshot sum_backend(BackendStats& row, unsigned shard_count);

  const unsigned workers_;
  const std::string version_;
  const double start_time_seconds_;

  mutable std::shared_mutex mutex_;
  // Guarded by mutex_:
  uint64_t generation_ = 0;
  std::vector<std::shared_ptr<RouteStats>> routes_;  // live rows, config order
  // Keys view the rows' own names, which live as long as the mapped row.
  std::unordered_map<std::string_view, std::shared_ptr<RouteStats>> index_;
  std::vector<std::shared_ptr<RouteStats>> retired_;  // removed routes, maybe still held

  struct DnsCounts {
    uint64_t ok = 0;
    uint64_t error = 0;
  };
  mutable std::mutex dns_mutex_;  // guards dns_counts_ (taken after mutex_, never before)
  std::map<std::pair<std::string, std::string>, DnsCounts> dns_counts_;  // (route, backend)

  std::atomic<uint64_t> published_generation_{0};
  std::atomic<uint64_t> reloads_ok_{0};
  std::atomic<uint64_t> reloads_error_{0};
};

}  // namespace arus
