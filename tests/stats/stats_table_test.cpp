// StatsTable: rows follow apply(), counters survive reloads, retired rows stay safe while
// held, and concurrent apply/count/snapshot is race-free (run this under TSan too).
#include "arus/stats/stats_table.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <utility>
#include <thread>

#include "../support/route_config.hpp"
#include "arus/balance/backend_health.hpp"

namespace arus {
namespace {

using test::route_config;

Config config(std::vector<RouteConfig> routes) {
  Config c;
  c.routes = std::move(routes);
  return c;
}

// A route's live row and one of its backends' rows, looked up as a worker does.
std::shared_ptr<RouteStats> find_route(const StatsTable& table, std::string name) {
  return table.counters_for(route_config(std::move(name), {})).route;
}

std::shared_ptr<BackendStats> find_backend(const StatsTable& table, std::string route,
                                           std::string backend) {
  return table.counters_for(route_config(std::move(route), {std::move(backend)})).backends[0];
}

const RouteSnapshot* find(const StatsSnapshot& s, std::string_view name) {
  for (const auto& r : s.routes) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

TEST(StatsTable, EveryConfiguredSeriesExistsFromTheStartAtZero) {
  StatsTable table(2, "1.2.3");
  EXPECT_EQ(table.apply(config({route_config("web", {"a:1", "b:2"}),
                                 route_config("db", {"c:3"}, "[::1]:5432")})),
            1u);
  EXPECT_EQ(table.snapshot().generation, 0u) << "applied, not yet served by every worker";
  table.publish_generation(1);
  StatsSnapshot s = table.snapshot();
  EXPECT_EQ(s.version, "1.2.3");
  EXPECT_GT(s.start_time_seconds, 1.6e9);
  EXPECT_EQ(s.generation, 1u);
  EXPECT_EQ(s.worker_connections_active, (std::vector<int64_t>{0, 0}));
  ASSERT_EQ(s.routes.size(), 2u);
  EXPECT_EQ(s.routes[0].name, "web");
  EXPECT_EQ(s.routes[0].listen, "127.0.0.1:8080");
  EXPECT_EQ(s.routes[1].name, "db");
  EXPECT_EQ(s.routes[1].listen, "[::1]:5432");
  EXPECT_FALSE(s.routes[0].retired);
  EXPECT_EQ(s.routes[0].connections_total, 0u);
  EXPECT_EQ(s.routes[0].bytes_client_to_backend, 0u);
  ASSERT_EQ(s.routes[0].backends.size(), 2u);
  EXPECT_EQ(s.routes[0].backends[0].name, "a:1");
  EXPECT_EQ(s.routes[0].backends[1].name, "b:2");
  EXPECT_TRUE(s.routes[0].backends[0].up);
  EXPECT_EQ(s.routes[0].backends[1].connections_total, 0u);
}

TEST(StatsTable, ShardsSumAndCountersSurviveApply) {
  StatsTable table(2, "v");
  table.apply(config({route_config("web", {"a:1"})}));
  RouteCounters web = table.counters_for(route_config("web", {"a:1"}));
  ASSERT_TRUE(web.route);
  ASSERT_EQ(web.backends.size(), 1u);
  ASSERT_TRUE(web.backends[0]);
  stats_add(web.route->shard(0).connections_total, 2);
  stats_add(web.route->shard(1).connections_total, 3);
  stats_add(web.route->shard(0).bytes_client_to_backend, 100);
  stats_add(web.route->shard(1).bytes_backend_to_client, 7);
  stats_add(web.route->shard(0).connections_active, 1);
  stats_add(web.route->shard(0).timeouts_idle);
  stats_add(web.backends[0]->shard(1).connect_errors_total, 4);
  auto health = std::make_shared<BackendHealth>();
  health->record_failure(1'000'000);
  table.show_health(*web.backends[0], health);  // arus_backend_up reads it from now on

  // Same route with another listen address, a new backend and a new route.
  EXPECT_EQ(
      table.apply(config({route_config("web", {"a:1", "n:9"}, "0.0.0.0:80"),
                          route_config("new", {"x:1"})})),
      2u);
  StatsSnapshot s = table.snapshot();
  const RouteSnapshot* w = find(s, "web");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->listen, "0.0.0.0:80");
  EXPECT_EQ(w->connections_total, 5u);
  EXPECT_EQ(w->bytes_client_to_backend, 100u);
  EXPECT_EQ(w->bytes_backend_to_client, 7u);
  EXPECT_EQ(w->connections_active, 1);
  EXPECT_EQ(w->timeouts_idle, 1u);
  ASSERT_EQ(w->backends.size(), 2u);
  EXPECT_EQ(w->backends[0].connect_errors_total, 4u);
  EXPECT_FALSE(w->backends[0].up);
  EXPECT_EQ(w->backends[1].name, "n:9");
  EXPECT_EQ(w->backends[1].connect_errors_total, 0u);
  const RouteSnapshot* n = find(s, "new");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->connections_total, 0u);
  EXPECT_EQ(s.worker_connections_active, (std::vector<int64_t>{1, 0}));
  // The handle taken before the reload is the same row.
  EXPECT_EQ(find_route(table, "web"), web.route);
  EXPECT_EQ(find_backend(table, "web", "a:1"), web.backends[0]);
}

TEST(StatsTable, RetiredRouteIsExportedWhileActiveAndFreedWhenUnheld) {
  StatsTable table(1, "v");
  table.apply(config({route_config("keep", {"k:1"}), route_config("gone", {"g:1"})}));
  std::shared_ptr<RouteStats> gone = find_route(table, "gone");
  std::shared_ptr<BackendStats> gone_backend = find_backend(table, "gone", "g:1");
  std::weak_ptr<RouteStats> watch = gone;
  stats_add(gone->shard(0).connections_total);
  stats_add(gone->shard(0).connections_active, 1);
  stats_add(gone_backend->shard(0).connections_active, 1);

  table.apply(config({route_config("keep", {"k:1"})}));
  EXPECT_EQ(find_route(table, "gone"), nullptr);
  StatsSnapshot s = table.snapshot();
  const RouteSnapshot* g = find(s, "gone");
  ASSERT_NE(g, nullptr) << "draining route still exported";
  EXPECT_TRUE(g->retired);
  EXPECT_EQ(g->connections_active, 1);
  ASSERT_EQ(g->backends.size(), 1u);
  EXPECT_EQ(g->backends[0].connections_active, 1);

  // Draining connections keep counting on the retired row.
  stats_add(gone->shard(0).bytes_client_to_backend, 10);
  EXPECT_EQ(find(table.snapshot(), "gone")->bytes_client_to_backend, 10u);

  stats_add(gone->shard(0).connections_active, -1);
  stats_add(gone_backend->shard(0).connections_active, -1);
  EXPECT_EQ(find(table.snapshot(), "gone"), nullptr) << "drained: no longer exported";
  EXPECT_EQ(table.snapshot().worker_connections_active, (std::vector<int64_t>{0}));

  table.apply(config({route_config("keep", {"k:1"})}));
  EXPECT_FALSE(watch.expired()) << "still held by a connection";
  gone.reset();
  gone_backend.reset();
  table.apply(config({route_config("keep", {"k:1"})}));
  EXPECT_TRUE(watch.expired()) << "freed at the apply after its last holder let go";
}

// Issue 19: a reload that keeps the routes' names and order reconciles only the rows of
// routes that are other objects; the others, and the index, stand.
TEST(StatsTable, ApplyWithTheSameRoutesInOrderTouchesOnlyTheChangedRows) {
  StatsTable table(1, "v");
  Config first = config({route_config("a", {"a:1"}), route_config("b", {"b:1"}),
                         route_config("c", {"c:1"}, "127.0.0.1:9000")});
  table.apply(first);
  std::shared_ptr<RouteStats> a = find_route(table, "a");
  ASSERT_NE(find_backend(table, "b", "b:1"), nullptr);
  Config second = config({route_config("a", {"a:1"}), route_config("b", {"b:2"}),
                          route_config("c", {"c:1"}, "127.0.0.1:9001")});
  second.routes.share(0, first.routes.pointer(0));  // unchanged: the running object
  table.apply(second);
  EXPECT_EQ(find_route(table, "a"), a);
  EXPECT_NE(find_backend(table, "b", "b:2"), nullptr) << "the changed route's new backend";
  EXPECT_EQ(find_backend(table, "b", "b:1"), nullptr) << "its old backend is no longer live";
  table.publish_generation(2);
  StatsSnapshot s = table.snapshot();
  ASSERT_EQ(s.routes.size(), 3u);
  EXPECT_EQ(s.routes[2].listen, "127.0.0.1:9001");
  EXPECT_EQ(s.routes[1].name, "b");
  // Reordered afterwards: found by name again, counters kept.
  Config third = config({route_config("c", {"c:1"}, "127.0.0.1:9001"),
                         route_config("b", {"b:2"}), route_config("a", {"a:1"})});
  table.apply(third);
  EXPECT_EQ(find_route(table, "a"), a);
  table.publish_generation(3);
  EXPECT_EQ(table.snapshot().routes[0].name, "c");
}

TEST(StatsTable, RouteRemovedAndAddedBackWhileHeldKeepsItsCounters) {
  StatsTable table(1, "v");
  table.apply(config({route_config("r", {"a:1"})}));
  std::shared_ptr<RouteStats> held = find_route(table, "r");
  stats_add(held->shard(0).connections_total, 5);
  table.apply(config({}));
  table.apply(config({route_config("r", {"a:1"})}));
  EXPECT_EQ(find_route(table, "r"), held);
  StatsSnapshot s = table.snapshot();
  ASSERT_EQ(s.routes.size(), 1u) << "one series per route name, never two";
  EXPECT_EQ(s.routes[0].connections_total, 5u);
  EXPECT_FALSE(s.routes[0].retired);
}

TEST(StatsTable, RouteRemovedUnheldStartsAgainAtZero) {
  StatsTable table(1, "v");
  table.apply(config({route_config("r", {"a:1"})}));
  stats_add(find_route(table, "r")->shard(0).connections_total, 5);
  table.apply(config({}));
  EXPECT_TRUE(table.snapshot().routes.empty());
  table.apply(config({route_config("r", {"a:1"})}));
  EXPECT_EQ(table.snapshot().routes.at(0).connections_total, 0u);
}

TEST(StatsTable, BackendRetiredWhileHeldThenRevived) {
  StatsTable table(1, "v");
  table.apply(config({route_config("r", {"a:1", "b:2"})}));
  std::shared_ptr<BackendStats> b = find_backend(table, "r", "b:2");
  stats_add(b->shard(0).connections_total, 3);
  stats_add(b->shard(0).connections_active, 1);
  table.apply(config({route_config("r", {"a:1"})}));
  EXPECT_EQ(find_backend(table, "r", "b:2"), nullptr);
  auto backends = table.snapshot().routes.at(0).backends;
  ASSERT_EQ(backends.size(), 2u) << "a retired backend with a connection stays visible";
  EXPECT_EQ(backends[1].name, "b:2");
  stats_add(b->shard(0).connections_active, -1);
  EXPECT_EQ(table.snapshot().routes.at(0).backends.size(), 1u);
  table.apply(config({route_config("r", {"a:1", "b:2"})}));
  EXPECT_EQ(find_backend(table, "r", "b:2"), b);
  EXPECT_EQ(table.snapshot().routes.at(0).backends.at(1).connections_total, 3u);
}

TEST(StatsTable, DuplicateBackendAddressSharesOneRow) {
  StatsTable table(1, "v");
  RouteConfig r = route_config("r", {"a:1", "a:1"});
  table.apply(config({r}));
  RouteCounters counters = table.counters_for(r);
  ASSERT_EQ(counters.backends.size(), 2u);
  EXPECT_EQ(counters.backends[0], counters.backends[1]);
  EXPECT_EQ(table.snapshot().routes.at(0).backends.size(), 1u);
}

TEST(StatsTable, UnknownNamesFindNothing) {
  StatsTable table(1, "v");
  EXPECT_EQ(find_route(table, "r"), nullptr);
  EXPECT_FALSE(table.counters_for(route_config("r", {"a:1"})).route);
  table.apply(config({route_config("r", {"a:1"})}));
  EXPECT_EQ(find_backend(table, "r", "zz:1"), nullptr);
  EXPECT_EQ(find_backend(table, "zz", "a:1"), nullptr);
}

TEST(StatsTable, ReloadResultsAreCounted) {
  StatsTable table(1, "v");
  table.count_reload(true);
  table.count_reload(false);
  table.count_reload(false);
  StatsSnapshot s = table.snapshot();
  EXPECT_EQ(s.reloads_ok, 1u);
  EXPECT_EQ(s.reloads_error, 2u);
}

TEST(StatsTable, WorkerShardsDoNotShareCacheLines) {
  static_assert(alignof(RouteShard) == kCacheLineBytes);
  static_assert(sizeof(RouteShard) % kCacheLineBytes == 0);
  static_assert(alignof(BackendShard) == kCacheLineBytes);
  StatsTable table(2, "v");
  table.apply(config({route_config("r", {"a:1"})}));
  auto r = find_route(table, "r");
  auto address = [](const void* p) { return reinterpret_cast<uintptr_t>(p); };
  EXPECT_EQ(address(&r->shard(0)) % kCacheLineBytes, 0u);
  EXPECT_GE(address(&r->shard(1)) - address(&r->shard(0)), kCacheLineBytes);
}

// Workers count through handles while readers snapshot and a reloader flips the row set:
// under ThreadSanitizer this is the data-race check; in any build, no add is lost and the
// surviving route's counters never go down.
TEST(StatsTable, ConcurrentApplyCountAndSnapshot) {
  constexpr unsigned kWorkers = 3;
  constexpr int kConnectionsPerWorker = 2000;
  constexpr int kReloads = 200;
  StatsTable table(kWorkers, "v");
  const Config with =
      config({route_config("stable", {"s:1"}), route_config("flappy", {"f:1", "g:2"})});
  const Config without = config({route_config("stable", {"s:1", "t:2"})});
  table.apply(with);
  // Two generations' health objects: workers change them, a reload re-points the row.
  const std::shared_ptr<BackendHealth> health[2] = {std::make_shared<BackendHealth>(),
                                                    std::make_shared<BackendHealth>()};

  std::atomic<bool> stop{false};
  std::atomic<int> workers_done{0};
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kConnectionsPerWorker; ++i) {
        // Once per connection: look up, then count without the lock.
        RouteCounters stable = table.counters_for(with.routes[0]);
        std::shared_ptr<RouteStats> flappy = find_route(table, "flappy");
        RouteShard& shard = stable.route->shard(w);
        stats_add(shard.connections_total);
        stats_add(shard.connections_active, 1);
        stats_add(shard.bytes_client_to_backend, 3);
        stats_add(stable.backends[0]->shard(w).connections_total);
        if (i % 3 == 0) {
          health[i % 2]->record_failure(1'000'000 + i);
        } else {
          health[i % 2]->record_success();
        }
        if (flappy) {
          stats_add(flappy->shard(w).connections_active, 1);
          stats_add(flappy->shard(w).bytes_backend_to_client, 1);
          stats_add(flappy->shard(w).connections_active, -1);
        }
        stats_add(shard.connections_active, -1);
      }
      workers_done.fetch_add(1);
    });
  }
  std::atomic<bool> monotonic{true};
  for (int reader = 0; reader < 2; ++reader) {
    threads.emplace_back([&] {
      uint64_t last = 0;
      while (!stop.load()) {
        StatsSnapshot s = table.snapshot();
        const RouteSnapshot* r = find(s, "stable");
        if (r == nullptr || r->connections_total < last) monotonic = false;
        if (r != nullptr) last = r->connections_total;
      }
    });
  }
  for (int i = 0; i < kReloads || workers_done.load() < static_cast<int>(kWorkers); ++i) {
    table.apply(i % 2 == 0 ? without : with);
    table.show_health(*find_backend(table, "stable", "s:1"), health[i % 2]);
    if (i % 7 == 0) table.count_reload(i % 2 == 0);
  }
  stop = true;
  for (auto& t : threads) t.join();

  EXPECT_TRUE(monotonic.load());
  StatsSnapshot s = table.snapshot();
  const RouteSnapshot* r = find(s, "stable");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->connections_total, uint64_t{kWorkers} * kConnectionsPerWorker);
  EXPECT_EQ(r->bytes_client_to_backend, 3 * uint64_t{kWorkers} * kConnectionsPerWorker);
  EXPECT_EQ(r->connections_active, 0);
  EXPECT_EQ(r->backends.at(0).connections_total, uint64_t{kWorkers} * kConnectionsPerWorker);
  for (int64_t active : s.worker_connections_active) EXPECT_EQ(active, 0);
}

}  // namespace
}  // namespace arus
