// Thin TCP socket helpers at the OS edge: every descriptor is non-blocking, close-on-exec
// and born inside a UniqueFd. Stateless; safe from any thread.
#pragma once

#include "arus/core/result.hpp"
#include "arus/core/unique_fd.hpp"
#include "arus/net/address.hpp"

namespace arus {

// A listening socket on `address`. With `reuse_port`, several sockets (one per worker)
// share the address and the kernel spreads new connections over them. The sockets it
// accepts have TCP_NODELAY and SO_OOBINLINE set already (inherited from the listener).
Result<UniqueFd> listen_tcp(const SocketAddress& address, bool reuse_port, int backlog);

// The unbound socket listen_tcp starts from: SO_REUSEADDR, SO_REUSEPORT if asked,
// IPV6_V6ONLY for IPv6, TCP_NODELAY and SO_OOBINLINE. Shared with the listen probe so a
// probe binds exactly as a listener would, SO_REUSEPORT aside.
Result<UniqueFd> listener_socket(const SocketAddress& address, bool reuse_port);

struct ConnectAttempt {
  UniqueFd fd;    // valid when the attempt started (or completed)
  int error = 0;  // errno when it failed at once (fd then invalid)
};

// Starts a non-blocking connect to `address` (TCP_NODELAY, SO_OOBINLINE). Completion
// is signalled by writability; read the outcome with socket_error().
ConnectAttempt connect_tcp(const SocketAddress& address) noexcept;

// The same with no socket option: for a probe that sends one short request and reads one
// reply (a health check). Nagle never holds a connection's first segment, and urgent
// data means nothing to a check, so each option would only cost a system call.
ConnectAttempt connect_tcp_probe(const SocketAddress& address) noexcept;

// The pending error of a socket (SO_ERROR), 0 if none.
int socket_error(int fd) noexcept;

// Disables Nagle: a proxy forwards what it has at once; batching is the sender's job.
void set_tcp_nodelay(int fd) noexcept;

// Keeps TCP urgent data in line: a relay passes every byte on, the urgent one included,
// instead of letting the kernel hold it aside (and drop it when the next one comes).
void set_oob_inline(int fd) noexcept;

// The local or the peer address of a socket (empty on failure).
SocketAddress local_address(int fd) noexcept;
SocketAddress peer_address(int fd) noexcept;

}  // namespace arus
