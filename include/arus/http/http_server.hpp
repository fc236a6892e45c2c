// HttpServer: a small HTTP/1.1 server (the stats listener's, stats_listen) served on an
// existing Reactor: non-blocking sockets, edge-triggered, bounded memory per client, no
// thread of its own; what it answers is up to its handler. Not thread-safe: create, use
// and destroy it on its reactor's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "arus/core/result.hpp"
#include "arus/core/unique_fd.hpp"
#include "arus/http/client_slots.hpp"
#include "arus/http/http_request.hpp"
#include "arus/http/http_response.hpp"
#include "arus/net/acceptor.hpp"
#include "arus/net/address.hpp"
#include "arus/reactor/reactor.hpp"

namespace arus {

// Answers one complete request: appends the response (or its head, the body returned by
// reference) to `out`. Called on the reactor thread; may throw (the client gets a 500).
// The request's views are valid during the call only.
using HttpHandler = std::function<HttpResponse(const HttpRequest& request, std::string& out)>;

// The answer to a request given later (HttpServer::reply_later): for work that finishes
// on another thread or after a wait. Copyable; use it on the server's reactor thread.
class HttpReply {
 public:
  HttpReply() = default;
  // Sends a whole response (status line, headers, body) and, when `close`, closes the
  // connection after it. Does nothing after the first call, or when the client is gone
  // (it closed, timed out, or the server was destroyed).
  void send(std::string response, bool close) const noexcept;

 private:
  friend class HttpServer;
  struct Slot;
  explicit HttpReply(std::shared_ptr<Slot> slot) : slot_(std::move(slot)) {}
  std::shared_ptr<Slot> slot_;
};

struct HttpServerOptions {
  // Names the listener in its log lines and errors ("stats accept failed").
  const char* name = "http";
  // Open clients in all. A new client over it closes the client idle the longest (no
  // request being received, nothing left to send, as nginx reuses keep-alive
  // connections); only when none is idle is the newcomer sent a 503 and closed.
  size_t max_clients = 256;
  // Open clients of one IP address; 0 = no cap. A source over it closes its own oldest
  // idle client, else its newcomer gets a 503, so one source (a leaking keep-alive pool,
  // a flood of stalled requests) can hold at most this share of the table and never push
  // out another source's clients. 32 = max_clients / 8: at least eight sources fit with
  // every client busy, while a real source needs a few (Prometheus keeps one connection
  // per target; a kubelet probe opens one per period) even behind a NAT or a sidecar
  // that makes everyone look like one address.
  size_t max_clients_per_source = 32;
  uint64_t request_timeout_ms = 5000;    // a started request must be whole by then: else 408
  uint64_t idle_timeout_ms = 60000;      // keep-alive connection with nothing pending: closed
  uint64_t write_timeout_ms = 10000;     // pending output making no progress: closed
  uint64_t linger_ms = 2000;             // reading and discarding after the last response
  size_t output_high_water = 64 * 1024;  // pipelined requests wait while more is unsent
  // Output pending without a break this long: closed. Bounds how long a trickling reader
  // can pin a shared body (Prometheus gives up on a scrape after 10 s by default).
  uint64_t response_timeout_ms = 30000;
  // SO_SNDBUF of each client (the kernel doubles it). Left to autotuning, a socket that
  // is not read takes up to tcp_wmem's 4 MB of kernel memory, which a memory cgroup
  // charges to the process; bodies wait shared in user space instead.
  int send_buffer_bytes = 64 * 1024;
  // Request bodies up to this size (Content-Length) are read and handed to the handler
  // (HttpRequest::body); a longer one is answered 413, a chunked one 411. 0: bodies are
  // not read (the handler answers from the head and the connection closes after it).
  // A client's buffer grows to the head limit plus this only while it sends a body.
  size_t max_body_bytes = 0;
};

class HttpServer : private EventHandler, private AcceptHandler {
 public:
  // A non-blocking, close-on-exec TCP socket bound to `address` (SO_REUSEADDR) and
  // listening. Separate from create() so it can be bound before privileges are dropped.
  // The error names the address ("bind 127.0.0.1:9090: Address already in use"); the
  // caller adds where it was configured.
  static Result<UniqueFd> open_listener(const SocketAddress& address);

  // Serves on `listener` (from open_listener or equivalent) through `reactor`, which must
  // outlive the server; `handler` answers each request, in order per client. Call on the
  // reactor thread, or before that thread runs the reactor.
  static Result<std::unique_ptr<HttpServer>> create(Reactor& reactor, UniqueFd listener,
                                                    HttpHandler handler,
                                                    HttpServerOptions options = {});

  // Closes the listener and every client. Call on the reactor thread, from a task
  // deferred with Reactor::defer or between run_once calls: the reactor borrows the
  // server as an event handler until the batch is over, and the task that frees the
  // clients closed in a turn is deferred before any posted task of that turn runs.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port the listener is bound to (useful after binding port 0), or 0 on error.
  uint16_t port() const noexcept;
  size_t client_count() const noexcept { return clients_.size(); }

  // Inside a handler only: the request being answered will be answered through the
  // returned HttpReply; the handler returns HttpResponse{.pending = true} and appends
  // nothing. The client waits (reading no further request) until the reply is sent or
  // response_timeout_ms passes (then it is closed).
  HttpReply reply_later();

 private:
  friend class HttpReply;
  class Client;
  class AcceptTimer : public Timer {
   public:
    explicit AcceptTimer(HttpServer& server) : server_(server) {}
    void on_timer() noexcept override;

   private:
    HttpServer& server_;
  };

  HttpServer(Reactor& reactor, UniqueFd listener, HttpHandler handler, HttpServerOptions options);
  void on_events(uint32_t events) noexcept override;
  void accept_clients() noexcept;
  void on_accepted(UniqueFd fd, const SocketAddress& peer) noexcept override;
  void on_refused_no_descriptor(const SocketAddress& peer) noexcept override;
  void on_accept_error(int error) noexcept override;  // logs; the batch retries on a timer
  // Applies choose_slot to a client from `peer`: true when it may be admitted.
  bool make_room(const SocketAddress& peer) noexcept;
  void set_idle(size_t index, bool idle) noexcept;  // Client::index_, see ClientSlot
  void release(Client* client) noexcept;            // frees a closed client after the batch

  Reactor& reactor_;
  UniqueFd listener_;
  HttpServerOptions options_;
  HttpHandler handler_;
  // No reserve descriptor: out of descriptors, clients wait in the backlog for the retry.
  Acceptor acceptor_{/*reserve=*/nullptr};
  AcceptTimer accept_timer_{*this};  // retry after EMFILE
  bool accept_resume_pending_ = false;  // resume_later after a full accept batch
  std::vector<std::unique_ptr<Client>> clients_;  // Client::index_ is its position
  std::vector<ClientSlot> slots_;                 // slots_[i] describes clients_[i]
  uint64_t next_idle_order_ = 0;
  // Closed clients wait here until the current batch is over: a stale event for them may
  // still be dispatched. One deferred task a turn frees them; it runs before the server
  // can be destroyed (see ~HttpServer).
  std::vector<std::unique_ptr<Client>> dead_;
  bool reap_deferred_ = false;
  Client* answering_ = nullptr;  // the client whose handler runs, for reply_later()
};

}  // namespace arus
