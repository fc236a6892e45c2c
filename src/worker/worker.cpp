// Worker thread: accept, admit or refuse, run connections, drain.
#include "arus/worker/worker.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "arus/core/log.hpp"
#include "arus/core/place_lookup.hpp"
#include "arus/relay/access_log.hpp"
#include "arus/worker/source_limits.hpp"

namespace arus {
namespace {

constexpr size_t kPooledPipes = 256;
constexpr int kPipeSizeBytes = 256 * 1024;
// A few 1 MiB pipes (256 slots, the largest pipe-max-size allows by default): through
// them a message under 256 bytes needs no read that returns EAGAIN (splice_drain.hpp).
// 8 per worker cost 1,536 pages of the user's pipe quota more than 256 KiB pipes would.
constexpr LargePipes kLargePipes{.size_bytes = 1024 * 1024, .max_alive = 8};

}  // namespace

Result<std::unique_ptr<Worker>> Worker::create(unsigned index, SnapshotPtr snapshot,
                                               std::vector<UniqueFd> listeners,
                                               Admission& global_admission,
                                               std::function<void()> on_exit,
                                               std::function<void()> on_generation_freed) {
  auto reactor = Reactor::create();
  if (!reactor) return std::move(reactor).error();
  std::unique_ptr<Worker> worker(
      new Worker(index, std::move(*reactor), global_admission, std::move(on_exit)));
  worker->on_generation_freed_ = std::move(on_generation_freed);
  worker->current_ = worker->make_generation(snapshot);
  for (size_t i = 0; i < listeners.size(); ++i) {
    auto listener = std::make_unique<Listener>(*worker->reactor_, *worker,
                                               worker->descriptor_reserve_, i,
                                               std::move(listeners[i]),
                                               snapshot->config->routes[i].listen);
    if (int error = listener->arm(); error != 0) return posix_error("epoll_ctl(listener)", error);
    worker->listeners_.push_back(std::move(listener));
  }
  return worker;
}

Worker::Worker(unsigned index, std::unique_ptr<Reactor> reactor, Admission& global_admission,
               std::function<void()> on_exit)
    : index_(index),
      reactor_(std::move(reactor)),
      global_admission_(global_admission),
      on_exit_(std::move(on_exit)),
      pipes_(kPooledPipes, kPipeSizeBytes, nullptr, kLargePipes) {}

std::unique_ptr<Worker::Generation> Worker::make_generation(SnapshotPtr snapshot,
                                                            const Generation* previous) const {
  auto generation = std::make_unique<Generation>();
  const size_t route_count = snapshot->routes.size();
  const bool access_log = snapshot->config->global.access_log;
  const bool same_log =
      previous != nullptr && previous->snapshot->config->global.access_log == access_log;
  // Where a reused runtime was in the previous generation (none: built anew).
  PlaceLookup<const RouteRuntime*> before;
  auto previous_index = [&](size_t i, const RouteRuntime* runtime) -> std::optional<size_t> {
    if (previous == nullptr || !snapshot->reused(i)) return std::nullopt;
    return before.find(i, runtime, previous->route_count,
                       [&](size_t j) { return previous->route(j).runtime; });
  };
  generation->chunks.reserve((route_count + kChunkRoutes - 1) / kChunkRoutes);
  for (size_t begin = 0; begin < route_count; begin += kChunkRoutes) {
    const size_t end = std::min(route_count, begin + kChunkRoutes);
    const size_t c = begin / kChunkRoutes;
    // The previous generation's chunk runs the same runtimes at the same places: shared.
    if (same_log && c < previous->chunks.size()) {
      const RouteChunk& old = *previous->chunks[c];
      bool same = old.routes.size() == end - begin;
      for (size_t i = begin; same && i < end; ++i) {
        same = old.routes[i - begin].runtime == snapshot->routes[i].get();
      }
      if (same) {
        generation->chunks.push_back(previous->chunks[c]);
        continue;
      }
    }
    auto chunk = std::make_shared<RouteChunk>();
    chunk->routes.reserve(end - begin);
    chunk->balancers.reserve(end - begin);
    chunk->backend_stats.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
      const auto& route = snapshot->routes[i];
      if (std::optional<size_t> kept = previous_index(i, route.get())) {
        const RouteChunk& old = *previous->chunks[*kept / kChunkRoutes];
        chunk->balancers.push_back(old.balancers[*kept % kChunkRoutes]);
        chunk->backend_stats.push_back(old.backend_stats[*kept % kChunkRoutes]);
      } else {
        chunk->balancers.push_back(
            std::make_shared<Balancer>(route->config.balance, route->backend_count));
        auto backend_stats = std::make_shared<std::vector<BackendShard*>>();
        backend_stats->reserve(route->counters.backends.size());
        for (const auto& backend : route->counters.backends) {
          backend_stats->push_back(&backend->shard(index_));
        }
        chunk->backend_stats.push_back(std::move(backend_stats));
      }
      chunk->routes.push_back(WorkerRoute{route.get(), chunk->balancers.back().get(),
                                          &route->counters.route->shard(index_),
                                          chunk->backend_stats.back().get(), access_log});
    }
    generation->chunks.push_back(std::move(chunk));
  }
  generation->route_count = route_count;
  generation->snapshot = std::move(snapshot);
  return generation;
}

Worker::~Worker() {
  join();
  // Connections unregister their timers from the reactor: destroy them first.
  listeners_.clear();
  pool_.for_each([](Connection& connection) { connection.finish(CloseReason::kShutdown); });
  pool_.clear();
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::begin_drain() {
  reactor_->post([this] {
    draining_ = true;
    listeners_.clear();  // closing the sockets makes the kernel refuse new clients
    // Clients still waiting for a backend slot would only wait out the grace period.
    for_each_open([](Connection& c) {
      if (c.state() == Connection::State::kQueued) c.finish(CloseReason::kShutdown);
    });
  });
}

void Worker::list_connections(std::function<void(std::vector<ConnectionInfo>)> done) {
  reactor_->post([this, done = std::move(done)] {
    std::vector<ConnectionInfo> list;
    const uint64_t now = reactor_->now_ms();
    for_each_open([&](const Connection& c) {
      const auto* generation = static_cast<const Generation*>(c.group());
      list.push_back(ConnectionInfo{c.view(), c.route()->runtime->config.name,
                                    generation != nullptr ? generation->snapshot->generation : 0,
                                    now});
    });
    done(std::move(list));
  });
}

void Worker::close_connection(uint64_t id, std::function<void(bool found)> done) {
  reactor_->post([this, id, done = std::move(done)] {
    Connection* found = nullptr;
    for_each_open([&](Connection& c) {
      if (c.id() == id) found = &c;
    });
    if (found != nullptr) found->finish(CloseReason::kAdmin);
    done(found != nullptr);
  });
}

void Worker::stop_now() {
  reactor_->post([this] {
    listeners_.clear();
    stopping_ = true;
    for_each_open([](Connection& c) { c.finish(CloseReason::kShutdown); });
  });
}

void Worker::adopt(SnapshotPtr snapshot, std::shared_ptr<std::vector<UniqueFd>> fresh_listeners,
                   std::function<void()> on_adopted) {
  reactor_->post([this, snapshot = std::move(snapshot), fresh = std::move(fresh_listeners),
                  on_adopted = std::move(on_adopted)] {
    if (draining_ || stopping_) return;  // listeners are gone; nothing new will start
    if (fresh) adopt_listeners(*snapshot, *fresh);
    std::unique_ptr<Generation> next = make_generation(snapshot, current_.get());
    if (current_->open_connections > 0) retired_.push_back(std::move(current_));
    current_ = std::move(next);
    on_adopted();
  });
}

void Worker::adopt_listeners(const Snapshot& snapshot, std::vector<UniqueFd>& fresh) {
  const auto& routes = snapshot.config->routes;
  // The old listeners by address, made only when one is not where its route was: a
  // reload that adds or removes no route keeps every listener in its place.
  std::unordered_map<SocketAddress, std::unique_ptr<Listener>*, SocketAddressHash> running;
  auto running_on = [&](size_t i) -> std::unique_ptr<Listener>* {
    if (i < listeners_.size() && listeners_[i] && listeners_[i]->address() == routes[i].listen) {
      return &listeners_[i];
    }
    if (running.empty()) {
      running.reserve(listeners_.size());
      for (auto& old : listeners_) {
        if (old) running.emplace(old->address(), &old);
      }
    }
    auto old = running.find(routes[i].listen);
    return old != running.end() ? old->second : nullptr;
  };
  std::vector<std::unique_ptr<Listener>> listeners;
  listeners.reserve(routes.size());
  for (size_t i = 0; i < routes.size(); ++i) {
    if (i < fresh.size() && fresh[i].valid()) {
      auto listener = std::make_unique<Listener>(*reactor_, *this, descriptor_reserve_, i,
                                                 std::move(fresh[i]), routes[i].listen);
      if (int error = listener->arm(); error != 0) {
        log::error("listener_failed").kv("route", routes[i].name).kv("error", strerror(error));
        continue;
      }
      listeners.push_back(std::move(listener));
      continue;
    }
    // Same address as before: keep the very socket, so no client is ever refused.
    if (std::unique_ptr<Listener>* old = running_on(i); old != nullptr && *old) {
      (*old)->set_route_index(i);
      listeners.push_back(std::move(*old));
    }
  }
  listeners_ = std::move(listeners);  // what was not kept closes here
}

void Worker::run() noexcept {
  // Closed connections are recycled by tasks deferred to the end of each turn.
  while (!stopping_ && !(draining_ && active_connections() == 0)) reactor_->run_once(-1);
  if (on_exit_) on_exit_();
}

void Worker::on_accept(size_t route_index, UniqueFd client_fd,
                       const SocketAddress& client_address) noexcept {
  const WorkerRoute& route = current_->route(route_index);
  stats_add(route.stats->connections_total);
  if (!global_admission_.try_enter()) {
    refuse(route, route.stats->refused_global_limit, std::move(client_fd), client_address);
    return;
  }
  if (!route.runtime->admission->try_enter()) {
    global_admission_.leave();
    refuse(route, route.stats->refused_route_limit, std::move(client_fd), client_address);
    return;
  }
  Connection* connection = pool_.acquire();
  if (connection == nullptr) {
    route.runtime->admission->leave();
    global_admission_.leave();
    return;  // out of memory: dropping the socket closes it
  }
  ++current_->open_connections;
  active_count_.fetch_add(1, std::memory_order_relaxed);
  connection->start(std::move(client_fd), client_address, route, current_.get());
}

// The one place the per-source and rate limits judge a client, by its final address (the
// PROXY header's on an accept_proxy route). Admitted: counted on its source until
// on_connection_closed. Refused: the arus_refused_total counter of the reason.
bool Worker::admit_client(const Connection& connection) noexcept {
  const WorkerRoute& route = *connection.route();
  SourceLimits* limits = route.runtime->source_limits.get();
  if (limits == nullptr) return true;
  std::atomic<uint64_t>* refused = nullptr;
  switch (limits->admit(connection.client_address().ip_bytes(), reactor_->now_ms())) {
    case SourceVerdict::kAdmit:
      return true;
    case SourceVerdict::kSourceLimit:
      refused = &route.stats->refused_source_limit;
      break;
    case SourceVerdict::kRateLimit:
      refused = &route.stats->refused_rate_limit;
      break;
    case SourceVerdict::kSourceRateLimit:
      refused = &route.stats->refused_source_rate_limit;
      break;
  }
  if (refused != nullptr) stats_add(*refused);
  return false;
}

void Worker::refuse(const WorkerRoute& route, std::atomic<uint64_t>& reason_counter,
                    UniqueFd client_fd, const SocketAddress& client) noexcept {
  client_fd.reset();  // the client sees the close at once; nothing reaches a backend
  stats_add(reason_counter);
  log_refused(route, client);
}

void Worker::log_refused(const WorkerRoute& route, const SocketAddress& client) const noexcept {
  if (!route.access_log) return;
  log_access(AccessRecord{.route = route.runtime->config.name,
                          .client = &client,
                          .reason = CloseReason::kLimit});
}

void Worker::on_refused_no_descriptor(size_t route_index,
                                      const SocketAddress& client_address) noexcept {
  const WorkerRoute& route = current_->route(route_index);
  stats_add(route.stats->connections_total);
  stats_add(route.stats->refused_fds);
  log_refused(route, client_address);
}

void Worker::on_connection_closed(Connection& connection) noexcept {
  // The runtime the connection started on holds the table that counted it.
  SourceLimits* limits = connection.route()->runtime->source_limits.get();
  if (connection.source_admitted() && limits != nullptr) {
    limits->release(connection.client_address().ip_bytes());
  }
  connection.route()->runtime->admission->leave();
  global_admission_.leave();
  // Every connection of this worker started in one of its generations (on_accept).
  --static_cast<Generation*>(connection.group())->open_connections;
  active_count_.fetch_sub(1, std::memory_order_relaxed);
  // Events for it may still be queued in this batch. Two pointers: stored inline, and
  // the reactor's deferred queue has room for every connection (ConnectionPool::acquire).
  reactor_->defer([this, closed = &connection] { recycle(*closed); });
}

void Worker::recycle(Connection& connection) noexcept {
  connection.recycle();
  pool_.release(connection);
  // A retired generation goes (with its snapshot reference, and so possibly its filters)
  // once its last connection has been recycled.
  size_t freed =
      std::erase_if(retired_, [](const auto& generation) { return generation->open_connections == 0; });
  if (freed > 0 && on_generation_freed_) on_generation_freed_();
}

}  // namespace arus
