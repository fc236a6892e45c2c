// TCP socket helpers: listen, connect, socket options.
#include "arus/net/socket.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <utility>

namespace arus {

Result<UniqueFd> listener_socket(const SocketAddress& address, bool reuse_port) {
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return posix_error("socket", errno);
  int one = 1;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return posix_error("setsockopt(SO_REUSEADDR)", errno);
  }
  if (reuse_port && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    return posix_error("setsockopt(SO_REUSEPORT)", errno);
  }
  if (address.family() == AF_INET6) {
    // "[::]:80" means IPv6 only, as written; IPv4 gets its own route if wanted.
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  // Accepted sockets inherit both from their listener (Linux clones the listener's socket
  // state into each child): one setsockopt here each instead of one per connection.
  set_tcp_nodelay(fd.get());
  set_oob_inline(fd.get());
  return fd;
}

Result<UniqueFd> listen_tcp(const SocketAddress& address, bool reuse_port, int backlog) {
  Result<UniqueFd> made = listener_socket(address, reuse_port);
  if (!made) return made;
  UniqueFd fd = std::move(*made);
  if (::bind(fd.get(), address.sockaddr_ptr(), address.length()) != 0) {
    return posix_error("bind " + address.to_string(), errno);
  }
  if (::listen(fd.get(), backlog) != 0) return posix_error("listen " + address.to_string(), errno);
  return fd;
}

namespace {

ConnectAttempt start_connect(const SocketAddress& address, bool relay_options) noexcept {
  ConnectAttempt attempt;
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    attempt.error = errno;
    return attempt;
  }
  if (relay_options) {
    set_tcp_nodelay(fd.get());
    set_oob_inline(fd.get());
  }
  if (::connect(fd.get(), address.sockaddr_ptr(), address.length()) != 0 &&
      errno != EINPROGRESS) {
    attempt.error = errno;
    return attempt;
  }
  attempt.fd = std::move(fd);
  return attempt;
}

}  // namespace

ConnectAttempt connect_tcp(const SocketAddress& address) noexcept {
  return start_connect(address, true);
}

ConnectAttempt connect_tcp_probe(const SocketAddress& address) noexcept {
  return start_connect(address, false);
}

int socket_error(int fd) noexcept {
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

void set_tcp_nodelay(int fd) noexcept {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void set_oob_inline(int fd) noexcept {
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one);
}

SocketAddress local_address(int fd) noexcept {
  sockaddr_storage storage;
  socklen_t length = sizeof storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return {};
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), length);
}

SocketAddress peer_address(int fd) noexcept {
  sockaddr_storage storage;
  socklen_t length = sizeof storage;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return {};
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), length);
}

}  // namespace arus
