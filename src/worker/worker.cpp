// Worker thread: accept, admit or refuse, run connections, drain.
#include "arus/worker/worker.hpp"

#include "arus/core/log.hpp"

namespace arus {
namespace {

constexpr size_t kPooledPipes = 256;
constexpr int kPipeSizeBytes = 256 * 1024;

}  // namespace

Result<std::unique_ptr<Worker>> Worker::create(unsigned index, SnapshotPtr snapshot,
                                               std::vector<UniqueFd> listeners,
                                               Admission& global_admission,
                                               std::function<void()> on_exit) {
  auto reactor = Reactor::create();
  if (!reactor) return std::move(reactor).error();
  std::unique_ptr<Worker> worker(new Worker(index, std::move(snapshot), std::move(*reactor),
                                            global_admission, std::move(on_exit)));
  for (size_t i = 0; i < listeners.size(); ++i) {
    auto listener = std::make_unique<Listener>(*worker->reactor_, *worker, i,
                                               std::move(listeners[i]));
    if (int error = listener->arm(); error != 0) return posix_error("epoll_ctl(listener)", error);
    worker->listeners_.push_back(std::move(listener));
  }
  return worker;
}

Worker::Worker(unsigned index, SnapshotPtr snapshot, std::unique_ptr<Reactor> reactor,
               Admission& global_admission, std::function<void()> on_exit)
    : index_(index),
      snapshot_(std::move(snapshot)),
      reactor_(std::move(reactor)),
      global_admission_(global_admission),
      on_exit_(std::move(on_exit)),
      pipes_(kPooledPipes, kPipeSizeBytes) {
  bool access_log = snapshot_->config->global.access_log;
  balancers_.reserve(snapshot_->routes.size());
  backend_stats_.reserve(snapshot_->routes.size());
  routes_.reserve(snapshot_->routes.size());
  for (const auto& route : snapshot_->routes) {
    balancers_.push_back(
        std::make_unique<Balancer>(route->config.balance, route->backend_count));
    std::vector<BackendShard*>& backend_stats = backend_stats_.emplace_back();
    for (const auto& backend : route->counters.backends) {
      backend_stats.push_back(&backend->shard(index_));
    }
    routes_.push_back(WorkerRoute{route.get(), balancers_.back().get(),
                                  &route->counters.route->shard(index_), &backend_stats,
                                  access_log});
  }
}

Worker::~Worker() {
  join();
  // Connections unregister their timers from the reactor: destroy them first.
  listeners_.clear();
  for (auto& connection : all_) connection->finish(CloseReason::kShutdown);
  all_.clear();
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
  });
}

void Worker::stop_now() {
  reactor_->post([this] {
    listeners_.clear();
    stopping_ = true;
    while (open_head_ != nullptr) open_head_->finish(CloseReason::kShutdown);
  });
}

void Worker::run() noexcept {
  while (!stopping_ && !(draining_ && open_head_ == nullptr)) {
    reactor_->run_once(-1);
    release_closed_connections();
  }
  release_closed_connections();
  if (on_exit_) on_exit_();
}

void Worker::on_accept(size_t route_index, UniqueFd client_fd,
                       const SocketAddress& client_address) noexcept {
  const WorkerRoute& route = routes_[route_index];
  stats_add(route.stats->connections_total);
  if (!global_admission_.try_enter()) {
    refuse(route, route.stats->refused_global_limit, std::move(client_fd), client_address);
    return;
  }
  if (!route.runtime->admission.try_enter()) {
    global_admission_.leave();
    refuse(route, route.stats->refused_route_limit, std::move(client_fd), client_address);
    return;
  }
  Connection* connection = acquire_connection();
  if (connection == nullptr) {
    route.runtime->admission.leave();
    global_admission_.leave();
    return;  // out of memory: dropping the socket closes it
  }
  connection->next = open_head_;
  if (open_head_ != nullptr) open_head_->prev = connection;
  open_head_ = connection;
  active_count_.fetch_add(1, std::memory_order_relaxed);
  connection->start(std::move(client_fd), client_address, route);
}

void Worker::refuse(const WorkerRoute& route, std::atomic<uint64_t>& reason_counter,
                    UniqueFd client_fd, const SocketAddress& client) noexcept {
  client_fd.reset();  // the client sees the close at once; nothing reaches a backend
  stats_add(reason_counter);
  if (!route.access_log) return;
  log::info("access")
      .kv("route", route.runtime->config.name)
      .kv("client", client.to_string())
      .kv("backend", "-")
      .kv("client_to_backend", uint64_t{0})
      .kv("backend_to_client", uint64_t{0})
      .kv("duration_ms", uint64_t{0})
      .kv("close", close_reason_name(CloseReason::kLimit));
}

void Worker::on_refused_no_descriptor(size_t route_index) noexcept {
  RouteShard& stats = *routes_[route_index].stats;
  stats_add(stats.connections_total);
  stats_add(stats.refused_fds);
}

void Worker::on_connection_closed(Connection& connection) noexcept {
  connection.route()->runtime->admission.leave();
  global_admission_.leave();
  if (connection.prev != nullptr) connection.prev->next = connection.next;
  if (connection.next != nullptr) connection.next->prev = connection.prev;
  if (open_head_ == &connection) open_head_ = connection.next;
  active_count_.fetch_sub(1, std::memory_order_relaxed);
  closed_.push_back(&connection);
}

Connection* Worker::acquire_connection() noexcept {
  if (!free_.empty()) {
    Connection* connection = free_.back();
    free_.pop_back();
    return connection;
  }
  try {
    all_.push_back(std::make_unique<Connection>(*this));
    free_.reserve(all_.capacity());  // so release never allocates
    closed_.reserve(all_.capacity());
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
  return all_.back().get();
}

void Worker::release_closed_connections() noexcept {
  for (Connection* connection : closed_) {
    connection->recycle();
    free_.push_back(connection);
  }
  closed_.clear();
}

}  // namespace arus
