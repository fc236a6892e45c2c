// Worker: one thread running one reactor with its own listeners, pipe pool and
// connections. Other threads talk to it only through the thread-safe commands below,
// which post to its reactor.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "arus/balance/balancer.hpp"
#include "arus/reactor/reactor.hpp"
#include "arus/worker/admission.hpp"
#include "arus/worker/connection_pool.hpp"
#include "arus/relay/connection.hpp"
#include "arus/relay/pipe_pool.hpp"
#include "arus/relay/route_runtime.hpp"
#include "arus/worker/listener.hpp"

namespace arus {

class Worker final : public ConnectionHost, public AcceptSink {
 public:
  // `listeners` holds one bound socket per route of `snapshot`, in route order.
  // `global_admission` (the process-wide max_connections) must outlive the worker.
  // `on_exit` runs on the worker thread when it stops. `on_generation_freed` runs on it
  // each time the last connection of an older generation has gone and the generation
  // with it (not when a generation without connections is replaced: adopt's
  // `on_adopted` says that one is gone).
  static Result<std::unique_ptr<Worker>> create(unsigned index, SnapshotPtr snapshot,
                                                std::vector<UniqueFd> listeners,
                                                Admission& global_admission,
                                                std::function<void()> on_exit,
                                                std::function<void()> on_generation_freed = {});
  ~Worker() override;

  void start();  // spawns the thread
  void join();

  // Thread-safe commands.
  void begin_drain();  // stop accepting; the thread ends when no connection is left
  void stop_now();     // close every connection (reason shutdown); the thread ends
  // Switches new connections to `snapshot`. `fresh_listeners[i]`, when valid, is a new
  // socket for route i; otherwise route i keeps this worker's socket for its address.
  // Sockets of addresses no longer configured are closed; open connections finish on
  // the generation they started with. `on_adopted` runs on the worker thread once the
  // switch is done (not when the worker is already draining). A null `fresh_listeners`
  // says every route listens where the route at its index did: the listeners are not
  // walked (a reload of thousands of routes that adds, removes or moves none).
  void adopt(SnapshotPtr snapshot, std::shared_ptr<std::vector<UniqueFd>> fresh_listeners,
             std::function<void()> on_adopted);

  // GET /connections: `done` gets this worker's open connections, on the worker thread
  // (never if the thread has ended).
  struct ConnectionInfo {
    ConnectionView view;
    std::string route;
    uint64_t generation = 0;
    uint64_t now_ms = 0;  // the worker's clock when listed, for age and idle
  };
  void list_connections(std::function<void(std::vector<ConnectionInfo>)> done);
  // POST /connections/ID/close: closes connection `id` (close=admin) if it is open here;
  // `done(found)` on the worker thread.
  void close_connection(uint64_t id, std::function<void(bool found)> done);
  // The worker a connection id belongs to (see next_connection_id).
  static unsigned worker_of(uint64_t connection_id) noexcept {
    return static_cast<unsigned>(connection_id >> 48);
  }

  uint64_t active_connections() const noexcept {
    return active_count_.load(std::memory_order_relaxed);
  }

  // ConnectionHost
  Reactor& reactor() noexcept override { return *reactor_; }
  PipePool& pipes() noexcept override { return pipes_; }
  FilterBuffers& filter_buffers() noexcept override { return filter_buffers_; }
  uint64_t next_connection_id() noexcept override {
    return (uint64_t{index_} << 48) | ++connections_started_;
  }
  void on_connection_closed(Connection& connection) noexcept override;
  bool admit_client(const Connection& connection) noexcept override;

  // AcceptSink
  void on_accept(size_t route_index, UniqueFd client_fd,
                 const SocketAddress& client_address) noexcept override;
  void on_refused_no_descriptor(size_t route_index,
                                const SocketAddress& client_address) noexcept override;

 private:
  // One configuration generation as this worker runs it. Its connections point to it
  // (their group) and into `routes`, so it lives until its last connection has closed.
  // kChunkRoutes routes in a row (fewer in the last chunk) as this worker runs them. A
  // route the reload left unchanged (the same RouteRuntime) keeps its balancer and counter
  // shards; a chunk whose routes all are the previous generation's at the same places is
  // that generation's very chunk: adopting a reload that changed 3 routes of 5,000 builds
  // at most 3 chunks and shares the other pointers, instead of 5,000 routes' tables.
  static constexpr size_t kChunkRoutes = 64;
  struct RouteChunk {
    std::vector<WorkerRoute> routes;  // fixed once built: connections point into it
    std::vector<std::shared_ptr<Balancer>> balancers;
    std::vector<std::shared_ptr<const std::vector<BackendShard*>>> backend_stats;  // per backend
  };
  struct Generation final : ConnectionGroup {
    SnapshotPtr snapshot;
    std::vector<std::shared_ptr<const RouteChunk>> chunks;
    size_t route_count = 0;
    size_t open_connections = 0;

    const WorkerRoute& route(size_t i) const {
      return chunks[i / kChunkRoutes]->routes[i % kChunkRoutes];
    }
  };

  Worker(unsigned index, std::unique_ptr<Reactor> reactor, Admission& global_admission,
         std::function<void()> on_exit);
  std::unique_ptr<Generation> make_generation(SnapshotPtr snapshot,
                                              const Generation* previous = nullptr) const;
  // adopt()'s listeners: fresh sockets, kept ones moved to their route's index.
  void adopt_listeners(const Snapshot& snapshot, std::vector<UniqueFd>& fresh);
  void run() noexcept;
  void refuse(const WorkerRoute& route, std::atomic<uint64_t>& reason_counter,
              UniqueFd client_fd, const SocketAddress& client) noexcept;
  void log_refused(const WorkerRoute& route, const SocketAddress& client) const noexcept;
  // Puts a closed connection back in the pool; deferred to the end of the turn.
  void recycle(Connection& connection) noexcept;

  unsigned index_;
  std::unique_ptr<Reactor> reactor_;
  Admission& global_admission_;
  std::function<void()> on_exit_;
  std::function<void()> on_generation_freed_;
  PipePool pipes_;
  FilterBuffers filter_buffers_;
  uint64_t connections_started_ = 0;
  std::unique_ptr<Generation> current_;               // new connections start here
  std::vector<std::unique_ptr<Generation>> retired_;  // older ones with open connections
  DescriptorReserve descriptor_reserve_;  // one spare for all listeners_ (they borrow it)
  std::vector<std::unique_ptr<Listener>> listeners_;

  // Every connection of this worker; the open ones (started, not yet closed) are found
  // by their state, so opening and closing one links nothing (issue 19: no neighbour
  // touched per connection); the rare walks (drain, admin, stop) cost O(high-water mark).
  ConnectionPool pool_{*this};

  // Calls fn(Connection&) for each open connection; fn may finish it.
  template <typename Fn>
  void for_each_open(Fn fn) {
    pool_.for_each([&](Connection& c) {
      if (c.state() != Connection::State::kIdle && c.state() != Connection::State::kClosed) fn(c);
    });
  }

  bool draining_ = false;
  bool stopping_ = false;
  std::atomic<uint64_t> active_count_{0};
  std::thread thread_;
};

}  // namespace arus
