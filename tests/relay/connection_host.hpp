// Test rig for Connection: a fake ConnectionHost around a real Reactor, a route built as
// the worker builds its WorkerRoute (runtime, balancer, stats shards of worker 0), and
// peers on 127.0.0.1 that the test drives between reactor turns. Single-threaded.
#pragma once

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../support/route_config.hpp"
#include "../support/tcp_pair.hpp"
#include "arus/net/socket.hpp"
#include "arus/reactor/reactor.hpp"
#include "arus/relay/connection.hpp"
#include "arus/relay/route_runtime.hpp"
#include "arus/stats/stats_table.hpp"
#include "arus/worker/admission.hpp"

namespace arus::test {

// The worker's services, with the connection's end recorded instead of freed.
class FakeHost final : public ConnectionHost {
 public:
  // `make_pipe`: how the host's PipePool makes pipes (null: pipe2).
  explicit FakeHost(PipePool::MakePipe make_pipe = nullptr)
      : reactor_(make_reactor()), pipes_(8, 0, make_pipe) {}

  Reactor& reactor() noexcept override { return *reactor_; }
  PipePool& pipes() noexcept override { return pipes_; }
  FilterBuffers& filter_buffers() noexcept override { return filter_buffers_; }
  uint64_t next_connection_id() noexcept override { return ++ids_; }
  void on_connection_closed(Connection&) noexcept override { ++closed_; }
  bool admit_client(const Connection&) noexcept override { return true; }

  int closed() const { return closed_; }

  // Runs reactor turns until `done()` holds, calling it before each turn (it may move
  // bytes on the test's sockets). Bounded by a 10 s deadline, not by timing: false when
  // it ran out.
  template <typename Done>
  bool run_until(Done done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      reactor_->run_once(5);
      ++turns_;
    }
    return true;
  }
  uint64_t turns() const { return turns_; }

 private:
  static std::unique_ptr<Reactor> make_reactor() {
    auto reactor = Reactor::create();
    EXPECT_TRUE(reactor.ok());
    return reactor ? std::move(*reactor) : nullptr;
  }

  std::unique_ptr<Reactor> reactor_;
  PipePool pipes_;
  FilterBuffers filter_buffers_;
  uint64_t ids_ = 0;
  int closed_ = 0;
  uint64_t turns_ = 0;
};

// A listening socket on 127.0.0.1 standing for a backend; accept() takes the proxy's
// connection when it has come.
struct TestBackend {
  UniqueFd listener;
  SocketAddress address;

  // Listening, its accepted sockets with `receive_buffer_bytes` (0: the default).
  static TestBackend listening(int receive_buffer_bytes = 0) {
    TestBackend backend = bound();
    if (!backend.listener) return backend;
    if (receive_buffer_bytes > 0) {  // before listen(): accepted sockets inherit it
      setsockopt(backend.listener.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes,
                 sizeof receive_buffer_bytes);
    }
    EXPECT_EQ(::listen(backend.listener.get(), 4), 0);
    return backend;
  }

  // A bound port nobody listens on: a connect to it is refused. Kept bound, so no other
  // process takes the port while the test runs.
  static TestBackend refusing() { return bound(); }

  // The proxy's connection, once it is there (invalid before).
  UniqueFd accept() const {
    return UniqueFd(accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  }

 private:
  // A socket bound to a free port of 127.0.0.1, as a listener is before listen().
  static TestBackend bound() {
    TestBackend backend;
    Result<SocketAddress> any = resolve(HostPort{"127.0.0.1", 0});
    EXPECT_TRUE(any.ok());
    if (!any) return backend;
    Result<UniqueFd> fd = listener_socket(any.value(), /*reuse_port=*/false);
    EXPECT_TRUE(fd.ok());
    if (!fd) return backend;
    EXPECT_EQ(::bind(fd.value().get(), any.value().sockaddr_ptr(), any.value().length()), 0);
    backend.address = local_address(fd.value().get());
    backend.listener = std::move(fd.value());
    return backend;
  }
};

// One route on the given backends as a worker sees it (Worker::make_generation):
// runtime, balancer, and shard 0 of the route's and backends' stats rows.
class TestRoute {
 public:
  // `backend_cap`: every backend's max_connections; `limits`: the route's LimitsConfig;
  // `proxy_protocol`: its PROXY protocol keys.
  explicit TestRoute(const std::vector<SocketAddress>& backends,
                     FilterInstancePtr filter = nullptr, uint32_t retries = 2,
                     uint32_t backend_cap = 0, const LimitsConfig& limits = {},
                     ProxyProtocolConfig proxy_protocol = {})
      : table_(1, "test") {
    auto config = std::make_shared<Config>();
    std::vector<std::string> names;
    for (const SocketAddress& address : backends) names.push_back(address.to_string());
    RouteConfig route = route_config("r", names);
    for (size_t i = 0; i < backends.size(); ++i) {
      route.backends[i].address = backends[i];
      route.backends[i].max_connections = backend_cap;
    }
    route.retries = retries;
    route.limits = limits;
    route.proxy_protocol = proxy_protocol;
    config->routes.push_back(std::move(route));
    config->global.access_log = true;
    config_ = std::move(config);
    table_.apply(*config_);
    const RouteConfig& configured = config_->routes[0];
    runtime_ = std::make_unique<RouteRuntime>(configured, std::move(filter),
                                              std::make_shared<Admission>(0));
    runtime_->counters = table_.counters_for(configured);
    balancer_ = std::make_unique<Balancer>(configured.balance, runtime_->backend_count);
    for (const auto& backend : runtime_->counters.backends) {
      backend_stats_.push_back(&backend->shard(0));
    }
    route_ = WorkerRoute{runtime_.get(), balancer_.get(), &runtime_->counters.route->shard(0),
                         &backend_stats_, true};
  }

  const WorkerRoute& worker_route() const { return route_; }
  RouteShard& stats() { return *route_.stats; }
  BackendShard& backend_stats(size_t index) { return *backend_stats_.at(index); }

 private:
  ConfigPtr config_;
  StatsTable table_;
  std::unique_ptr<RouteRuntime> runtime_;
  std::unique_ptr<Balancer> balancer_;
  std::vector<BackendShard*> backend_stats_;
  WorkerRoute route_{};
};

// One end of a test connection, driven without blocking between reactor turns: what
// it has read, whether it saw EOF or an error, and what it has yet to write.
struct Peer {
  Peer() = default;
  explicit Peer(UniqueFd socket) : fd(std::move(socket)) {}

  UniqueFd fd;
  std::string received;
  bool eof = false;
  int read_error = 0;   // errno of the first failed recv (ECONNRESET after a reset)
  int write_error = 0;  // errno of the first failed send
  std::string outbox;   // bytes queued by send() that the socket has not taken yet
  size_t sent = 0;
  bool fin_queued = false;  // shutdown(SHUT_WR) once the outbox is written
  bool fin_sent = false;

  // Queues `bytes` and writes what the socket takes now.
  void send(const std::string& bytes) {
    outbox += bytes;
    flush();
  }
  // Sends FIN after what send() queued.
  void send_fin() {
    fin_queued = true;
    flush();
  }
  void flush() {
    while (!outbox.empty() && write_error == 0) {
      ssize_t n = ::send(fd.get(), outbox.data(), outbox.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) write_error = errno;
        if (errno != EINTR) return;
        continue;
      }
      outbox.erase(0, static_cast<size_t>(n));
      sent += static_cast<size_t>(n);
    }
    if (outbox.empty() && fin_queued && !fin_sent) {
      fin_sent = ::shutdown(fd.get(), SHUT_WR) == 0;
    }
  }
  // Reads what is there; call between turns.
  void read() {
    char chunk[64 * 1024];
    while (!eof && read_error == 0) {
      ssize_t n = ::recv(fd.get(), chunk, sizeof chunk, 0);
      if (n > 0) {
        received.append(chunk, static_cast<size_t>(n));
      } else if (n == 0) {
        eof = true;
      } else if (errno == EAGAIN) {
        return;
      } else if (errno != EINTR) {
        read_error = errno;
      }
    }
  }
  // Writes and reads what it can.
  void pump() {
    flush();
    read();
  }
  bool ended() const { return eof || read_error != 0; }
};

// Hands the accepted side of a fresh 127.0.0.1 pair to `connection`; returns the
// client's side.
inline Peer start(Connection& connection, const TestRoute& route) {
  TcpPair pair = make_tcp_pair();
  SocketAddress client_address = peer_address(pair.accepted.get());
  connection.start(std::move(pair.accepted), client_address, route.worker_route());
  return Peer(std::move(pair.connected));
}

// `size` bytes whose content depends on their position, so reordering or loss shows.
inline std::string pattern(size_t size, unsigned seed = 0) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 7 + seed + i / 251) % 251);
  return bytes;
}

}  // namespace arus::test
