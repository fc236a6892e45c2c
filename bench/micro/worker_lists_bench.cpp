// A worker's per-connection structures with N connections open: the connection pool
// (include/arus/worker/connection_pool.hpp, real Connection objects). The worker keeps no
// list of open connections since issue 19 (it finds them in the pool by their state), so
// the former row "pool + open list" is gone with the list.
#include <malloc.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "arus/reactor/reactor.hpp"
#include "arus/relay/connection.hpp"
#include "arus/relay/pipe_pool.hpp"
#include "arus/worker/connection_pool.hpp"
#include "sizes.hpp"

namespace arus::micro {
namespace {

// What a Connection needs from its worker; nothing here runs, the pool only makes them.
class IdleHost final : public ConnectionHost {
 public:
  IdleHost() : reactor_(make_reactor()), pipes_(0, 0) {}
  Reactor& reactor() noexcept override { return *reactor_; }
  PipePool& pipes() noexcept override { return pipes_; }
  FilterBuffers& filter_buffers() noexcept override { return buffers_; }
  uint64_t next_connection_id() noexcept override { return ++ids_; }
  bool admit_client(const Connection&) noexcept override { return true; }
  void on_connection_closed(Connection&) noexcept override {}

 private:
  static std::unique_ptr<Reactor> make_reactor() {
    auto reactor = Reactor::create();
    return reactor ? std::move(*reactor) : nullptr;  // null: epoll_create failed, the run stops
  }

  std::unique_ptr<Reactor> reactor_;
  PipePool pipes_;
  FilterBuffers buffers_;
  uint64_t ids_ = 0;
};

// What the worker does since issue 19: N connections taken from the pool; an operation:
// one closes (back to the pool) and a new one opens (taken from the pool). Open ones are
// found by their state when the worker needs them (drain, admin), so nothing is linked.
void pool_close_open(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  IdleHost host;
  ConnectionPool pool(host);
  std::vector<Connection*> held(n);
  for (size_t i = 0; i < n; ++i) {
    held[i] = pool.acquire();
    if (held[i] == nullptr) return state.SkipWithError("out of memory");
  }
  size_t i = 0;
  for (auto _ : state) {
    pool.release(*held[i]);
    held[i] = pool.acquire();
    benchmark::DoNotOptimize(held[i]);
    i = next_entry(i, n);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// The pool growing from empty to N: acquire() making new Connection objects (the cost a
// worker pays once per high-water mark). An operation: one connection made.
void pool_growth(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  IdleHost host;
  for (auto _ : state) {
    ConnectionPool pool(host);
    for (size_t i = 0; i < n; ++i) benchmark::DoNotOptimize(pool.acquire());
    state.PauseTiming();
    pool.clear();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}

// The same growth as a worker meets it: from memory the process never touched, at every
// size. In pool_growth the smaller sizes reuse the pages the previous run freed (malloc
// keeps them) while 1M gets fresh ones from the kernel (a page fault per ~10
// connections): that row compares two different things. Here every size gives its pages
// back first (malloc_trim, outside the timing) and grows at least 1M connections in all.
void pool_growth_fresh_pages(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const size_t runs = std::max<size_t>(1, 1'000'000 / n);
  IdleHost host;
  for (auto _ : state) {
    for (size_t run = 0; run < runs; ++run) {
      state.PauseTiming();
      malloc_trim(0);
      state.ResumeTiming();
      ConnectionPool pool(host);
      for (size_t i = 0; i < n; ++i) benchmark::DoNotOptimize(pool.acquire());
      state.PauseTiming();
      pool.clear();
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * runs * n));
}

BENCHMARK(pool_close_open)
    ->Name("Worker connection pool (no open list, the worker since issue 19): close one, open one")
    ->Apply([](auto* b) { at_every_size(b); });
BENCHMARK(pool_growth)
    ->Name("Worker connection pool: grow to N (new Connection each)")
    ->Apply([](auto* b) { at_every_size(b)->Iterations(3); });
BENCHMARK(pool_growth_fresh_pages)
    ->Name("Worker connection pool: grow to N from fresh pages (as a worker does)")
    ->Apply([](auto* b) { at_every_size(b)->Iterations(2); });

}  // namespace
}  // namespace arus::micro
