// Connection, the PROXY protocol part: reading the client's header (accept_proxy) before
// any backend is chosen, and writing one to the backend (send_proxy) before any client
// byte. The rest of the state machine is in connection.cpp.
#include "arus/relay/connection.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <new>

#include "arus/core/log.hpp"
#include "arus/net/proxy_header.hpp"
#include "arus/net/socket.hpp"

namespace arus {

// Looks at what the client sent so far without taking it (MSG_PEEK); once a whole header
// is there, takes exactly its bytes, so the stream's own bytes stay in the kernel for the
// splice path. A client that sends its header in pieces is peeked at again on each new
// piece (edge-triggered epoll reports each arrival); a header is at most 2 KiB.
void Connection::read_proxy_header(bool client_hung_up) noexcept {
  uint8_t buffer[kProxyHeaderMaxBytes];
  const int fd = client_.fd.get();
  ssize_t n;
  do {
    n = ::recv(fd, buffer, sizeof buffer, MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      client_.readable = false;
      return;
    }
    close_error_ = errno;
    return refuse_proxy_header("receive failed");
  }
  if (n == 0) return refuse_proxy_header("closed before the header was complete");
  ProxyParseResult header = parse_proxy_header({buffer, static_cast<size_t>(n)});
  if (header.status == ProxyParseStatus::kMalformed) return refuse_proxy_header(header.reason);
  if (header.status == ProxyParseStatus::kNeedMore) {
    // The client's FIN came with (or after) what was peeked: no more is coming.
    if (client_hung_up) return refuse_proxy_header("closed before the header was complete");
    client_.readable = false;  // the next piece is a new edge
    return;
  }
  // The bytes are in the kernel already (just peeked): one recv takes them all.
  ssize_t taken;
  do {
    taken = ::recv(fd, buffer, header.length, MSG_DONTWAIT);
  } while (taken < 0 && errno == EINTR);
  if (taken != static_cast<ssize_t>(header.length)) {
    close_error_ = taken < 0 ? errno : 0;
    return refuse_proxy_header("receive failed");
  }
  if (!header.local) {  // LOCAL / UNKNOWN: the socket's own peer stays the client
    ProxyHeaderState* proxy = proxy_state();
    if (proxy == nullptr) return finish(CloseReason::kError);
    client_address_ = header.source;
    proxy->destination = header.destination;
  }
  host_.reactor().timers().cancel(deadline_);
  state_ = State::kConnecting;
  client_.readable = true;  // the stream's first bytes may be waiting behind the header
  if (admit_client()) connect_next_backend(-1);
}

void Connection::refuse_proxy_header(const char* reason) noexcept {
  log::warn("proxy_header_refused")
      .kv("route", route_->runtime->config.name)
      .kv("client", client_address_.to_string())
      .kv("reason", reason);
  finish(CloseReason::kProxyHeader);
}

// send_proxy: the header the backend reads first. Its destination is the one an accepted
// header named, else the address the client reached here.
bool Connection::prepare_backend_header() noexcept {
  const SendProxy send = route_->runtime->config.proxy_protocol.send;
  if (send == SendProxy::kOff) return true;
  ProxyHeaderState* proxy = proxy_state();
  if (proxy == nullptr) return false;
  // A listener bound to one address is what every client of it reached: no getsockname
  // per connection then, only behind a wildcard listener.
  const SocketAddress& listen = route_->runtime->config.listen;
  const SocketAddress destination = !proxy->destination.empty() ? proxy->destination
                                    : !listen.is_wildcard()      ? listen
                                                                 : local_address(client_.fd.get());
  proxy->backend_header = build_proxy_header(
      send == SendProxy::kV1 ? ProxyVersion::kV1 : ProxyVersion::kV2, client_address_, destination);
  proxy->backend_header_sent = 0;
  return true;
}

Connection::ProxyHeaderState* Connection::proxy_state() noexcept {
  if (!proxy_) proxy_.reset(new (std::nothrow) ProxyHeaderState());
  return proxy_.get();
}

// Writes what is left of the backend's header. False while some is left (the client's
// bytes wait behind it: they stay in the kernel) or when the connection ended.
// When the client has bytes waiting, the header goes with MSG_MORE: the kernel holds it
// until the pump splices those bytes right after it, and both leave in one segment (the
// backend is woken once, not for a lone header). drive() sends it alone if none follow,
// so a backend that speaks first (SMTP, MySQL) still gets it at once.
bool Connection::send_backend_header() noexcept {
  ProxyHeaderState& proxy = *proxy_;  // prepare_backend_header made it
  const int more = client_.readable && !to_backend_.source_eof ? MSG_MORE : 0;
  while (proxy.backend_header_sent < proxy.backend_header.size) {
    ssize_t n = ::send(backend_.fd.get(), proxy.backend_header.data + proxy.backend_header_sent,
                       proxy.backend_header.size - proxy.backend_header_sent,
                       MSG_NOSIGNAL | MSG_DONTWAIT | more);
    if (n >= 0) {
      proxy.backend_header_sent += static_cast<size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      backend_.writable = false;  // resumed by the backend's next EPOLLOUT edge
      return false;
    } else if (errno != EINTR) {
      close_error_ = errno;
      finish(CloseReason::kBackendReset);
      return false;
    }
  }
  proxy.backend_header_held = more != 0;
  return true;
}

// After the first pump: a header sent with MSG_MORE that no client byte followed (the
// readable edge was stale, or a filter kept the bytes) leaves now, alone, not at the
// kernel's 200 ms ceiling for held bytes. Setting TCP_NODELAY (on already) makes the
// kernel push what it holds.
void Connection::release_backend_header(size_t moved_to_backend) noexcept {
  proxy_->backend_header_held = false;
  if (moved_to_backend == 0 && backend_.fd) set_tcp_nodelay(backend_.fd.get());
}

}  // namespace arus
