// A worker's per-connection structures with N connections open: the connection pool
// (include/arus/worker/connection_pool.hpp, real Connection objects) and the list of
// open connections (IntrusiveList, as Worker::open_ and the backend queue's waiters use it).
#include <memory>
#include <vector>

#include "arus/core/intrusive_list.hpp"
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

// N connections taken from the pool and listed as open, as a worker holding N. An
// operation: one connection closes (unlinked, back to the pool) and a new one opens
// (taken from the pool, linked at the front), as Worker::on_connection_closed, recycle
// and on_accept do. Connection::recycle() is left out: it resets the connection's own
// fields, a cost of the connection and not of the structures holding it.
void pool_and_open_list(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  IdleHost host;
  ConnectionPool pool(host);
  IntrusiveList<Connection, &Connection::open_link> open;
  std::vector<Connection*> held(n);
  for (size_t i = 0; i < n; ++i) {
    held[i] = pool.acquire();
    if (held[i] == nullptr) return state.SkipWithError("out of memory");
    open.push_front(*held[i]);
  }
  size_t i = 0;
  for (auto _ : state) {
    open.erase(*held[i]);
    pool.release(*held[i]);
    held[i] = pool.acquire();
    open.push_front(*held[i]);
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

BENCHMARK(pool_and_open_list)
    ->Name("Worker connection pool + open list: close one, open one")
    ->Apply([](auto* b) { at_every_size(b); });
BENCHMARK(pool_growth)
    ->Name("Worker connection pool: grow to N (new Connection each)")
    ->Apply([](auto* b) { at_every_size(b)->Iterations(3); });

}  // namespace
}  // namespace arus::micro
