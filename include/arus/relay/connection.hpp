// Connection: one client connection relayed to one backend — the per-connection state
// machine ([reading header ->] [queued ->] connecting -> relaying [-> closing] -> closed)
// driving the pumps of both directions. Owned by one worker and touched only on its thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "arus/core/intrusive_list.hpp"
#include "arus/net/address.hpp"
#include "arus/net/proxy_header.hpp"
#include "arus/reactor/reactor.hpp"
#include "arus/relay/close_reason.hpp"
#include "arus/relay/filter_stage.hpp"
#include "arus/relay/flow.hpp"
#include "arus/relay/pipe_pool.hpp"
#include "arus/relay/route_runtime.hpp"
#include "arus/relay/splice_pump.hpp"

namespace arus {

class Balancer;
class Connection;

// The worker's side of a connection: services it borrows and where it reports its end.
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  virtual Reactor& reactor() noexcept = 0;
  virtual PipePool& pipes() noexcept = 0;
  virtual FilterBuffers& filter_buffers() noexcept = 0;
  // A process-wide unique id for a new connection (filters log with it).
  virtual uint64_t next_connection_id() noexcept = 0;
  // The client's address is final (at the start, or once an accepted PROXY header named
  // it): may it go on? False: a per-source or rate limit refused it (the host counted
  // why); the connection then closes with close=limit. True: the host counts it on its
  // source until on_connection_closed (see Connection::source_admitted()).
  virtual bool admit_client(const Connection& connection) noexcept = 0;
  // Called once when the connection has closed its sockets; the host frees it after the
  // current reactor batch (events for it may still be queued).
  virtual void on_connection_closed(Connection& connection) noexcept = 0;
};

// What a host files its connections under (the worker: the configuration generation a
// connection started on). Opaque to the connection, which only carries it from start()
// to recycle().
class ConnectionGroup {
 protected:
  ~ConnectionGroup() = default;
};

// A route as one worker sees it: the shared runtime, this worker's balancer, and this
// worker's shards of the route's and its backends' counters (found once, not per chunk).
struct WorkerRoute {
  const RouteRuntime* runtime;
  Balancer* balancer;
  RouteShard* stats;
  const std::vector<BackendShard*>* backend_stats;  // one per backend, config order
  bool access_log;
};

// What GET /connections shows of one connection (the worker adds route and generation).
struct ConnectionView {
  uint64_t id = 0;
  std::string client;   // IP:PORT
  std::string backend;  // HOST:PORT as written; empty before the first pick
  const char* path = "splice";  // splice | filter | handed_back
  uint64_t bytes_client_to_backend = 0;
  uint64_t bytes_backend_to_client = 0;
  uint64_t started_ms = 0;  // reactor clock
  uint64_t last_activity_ms = 0;
};

class Connection {
 public:
  // kReadingHeader: accept_proxy, waiting for the client's PROXY header; no backend yet.
  // kQueued: every backend is at its max_connections; the client waits in the route's
  // BackendQueue (nothing is read from it) until a slot is handed to it.
  // kClosing: one side failed (reset); its last bytes are delivered to the other side,
  // which waits for them to be acknowledged before the reset is passed on to it.
  enum class State : uint8_t {
    kIdle, kReadingHeader, kQueued, kConnecting, kRelaying, kClosing, kClosed
  };

  explicit Connection(ConnectionHost& host) noexcept;
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Takes the accepted client socket and starts connecting to a backend of `route`.
  // The route (and what it points to) and `group` (the host's, returned by group() until
  // recycle()) must stay valid until the connection has closed.
  void start(UniqueFd client_fd, const SocketAddress& client_address, const WorkerRoute& route,
             ConnectionGroup* group = nullptr) noexcept;

  // Ends the connection now (drain deadline, shutdown): closes both sockets.
  void finish(CloseReason reason) noexcept;

  // Resets a closed connection for reuse from the worker's pool.
  void recycle() noexcept;

  State state() const noexcept { return state_; }
  // Process-wide unique (ConnectionHost::next_connection_id), given at start(); the
  // filter's conn_info id too.
  uint64_t id() const noexcept { return id_; }
  ConnectionView view() const;
  const WorkerRoute* route() const noexcept { return route_; }
  ConnectionGroup* group() const noexcept { return group_; }
  // The client as every feature sees it: the source of an accepted PROXY header, else
  // the socket's peer. Final once the connection leaves kReadingHeader.
  const SocketAddress& client_address() const noexcept { return client_address_; }
  // ConnectionHost::admit_client said yes: the host counts it on its source.
  bool source_admitted() const noexcept { return source_admitted_; }

 private:
  // Receives epoll events for one of the two sockets.
  class SideEvents final : public EventHandler {
   public:
    SideEvents(Connection& connection, bool is_backend) : connection_(connection),
        is_backend_(is_backend) {}
    void on_events(uint32_t events) noexcept override;

   private:
    Connection& connection_;
    bool is_backend_;
  };
  // The connection's place in its route's BackendQueue. Its two calls come from whichever
  // thread frees a slot, under the queue's lock (see backend_queue.hpp).
  class QueueTicket final : public QueueWaiter {
   public:
    explicit QueueTicket(Connection& connection) : connection_(connection) {}
    int take_slot() noexcept override;
    void on_slot_granted(int index) noexcept override;

   private:
    Connection& connection_;
  };
  // Header timeout while reading a PROXY header, queue timeout while queued, connect
  // timeout while connecting, idle timeout while relaying.
  class DeadlineTimer final : public Timer {
   public:
    explicit DeadlineTimer(Connection& connection) : connection_(connection) {}
    void on_timer() noexcept override;

   private:
    Connection& connection_;
  };

  void on_client_events(uint32_t events) noexcept;
  void on_backend_events(uint32_t events) noexcept;
  void on_deadline() noexcept;

  enum class Side : uint8_t { kNone, kClient, kBackend };
  Flow& flow_from(Side side) noexcept { return side == Side::kClient ? to_backend_ : to_client_; }
  Flow& flow_to(Side side) noexcept { return side == Side::kClient ? to_client_ : to_backend_; }
  Endpoint& endpoint(Side side) noexcept { return side == Side::kClient ? client_ : backend_; }
  // The access-log reason of a connection whose failed_side_ is set.
  CloseReason reset_reason() const noexcept {
    return failed_side_ == Side::kClient ? CloseReason::kClientReset : CloseReason::kBackendReset;
  }
  Endpoint& other_endpoint(Side side) noexcept {
    return side == Side::kClient ? backend_ : client_;
  }

  struct FilterState;  // a filtered route's session and stages, see connection.cpp
  // What the PROXY protocol needs beyond the client's address (about 250 bytes).
  struct ProxyHeaderState {
    SocketAddress destination;  // accept_proxy: the header's destination, if it named one
    ProxyHeaderBytes backend_header;  // send_proxy: the header for the backend
    size_t backend_header_sent = 0;   // of backend_header; the client waits until all is sent
    bool backend_header_held = false;  // sent with MSG_MORE, waiting for the client's bytes
  };
  ProxyHeaderState* proxy_state() noexcept;  // null when out of memory
  bool backend_header_pending() const noexcept {
    return proxy_ && proxy_->backend_header_sent < proxy_->backend_header.size;
  }

  void read_proxy_header(bool client_hung_up) noexcept;
  void refuse_proxy_header(const char* reason) noexcept;
  bool prepare_backend_header() noexcept;  // false: out of memory
  bool send_backend_header() noexcept;
  void release_backend_header(size_t moved_to_backend) noexcept;
  bool admit_client() noexcept;
  void connect_next_backend(int avoid) noexcept;
  void wait_for_slot() noexcept;
  void on_slot_granted(uint64_t ticket) noexcept;
  void leave_queue() noexcept;
  void connect_to_backend() noexcept;
  bool open_filter() noexcept;
  void close_filter() noexcept;
  PumpResult pump(Flow& flow) noexcept;
  FilterStage* stage_of(const Flow& flow) noexcept;
  void on_side_failed(Side side, int error, bool reading) noexcept;
  void pass_reset_on() noexcept;
  void poll_reset_hand_off() noexcept;
  void on_connect_result(int error) noexcept;
  void on_connect_failed(int error, bool timed_out) noexcept;
  void drive() noexcept;
  void release_backend_slot() noexcept;
  void count_bytes(uint64_t to_backend_before, uint64_t to_client_before) noexcept;
  void write_access_line(CloseReason reason) const noexcept;

  ConnectionHost& host_;
  uint64_t id_ = 0;
  const WorkerRoute* route_ = nullptr;
  ConnectionGroup* group_ = nullptr;
  State state_ = State::kIdle;
  bool resume_pending_ = false;  // a Reactor::resume_later call is outstanding
  bool client_eof_first_ = true; // decides client_eof vs backend_eof
  bool backend_slot_held_ = false;
  bool source_admitted_ = false;
  bool backend_connected_ = false;  // counted in the backend's active connections
  int backend_index_ = -1;
  int tries_left_ = 0;
  Side failed_side_ = Side::kNone;  // the first side whose socket failed (reset)
  int close_error_ = 0;             // errno behind a reset or local error, for the access log
  size_t unacknowledged_ = 0;       // kClosing: bytes the surviving side has yet to acknowledge
  // Queue hand-off: which wait a posted grant belongs to, and the backend it granted
  // (written under the queue's lock by the granting thread).
  uint64_t queue_ticket_ = 0;
  int granted_index_ = -1;
  uint64_t started_ms_ = 0;
  uint64_t last_activity_ms_ = 0;
  SocketAddress client_address_;
  // Made the first time this (pooled) connection serves a route with accept_proxy or
  // send_proxy, kept on recycle: connections of the other routes stay small.
  std::unique_ptr<ProxyHeaderState> proxy_;
  Endpoint client_;
  Endpoint backend_;
  Flow to_backend_;
  Flow to_client_;
  SideEvents client_events_{*this, false};
  SideEvents backend_events_{*this, true};
  DeadlineTimer deadline_{*this};
  QueueTicket queue_ticket_link_{*this};
  std::unique_ptr<FilterState> filter_;  // null on the splice path
};

}  // namespace arus
