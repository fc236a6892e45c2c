// Whether another socket already holds a listen address, asked before this process binds
// its own SO_REUSEPORT sockets there (which the kernel would let a second process share
// silently). Stateless; safe from any thread.
#pragma once

#include "arus/core/result.hpp"
#include "arus/net/address.hpp"

namespace arus {

// Binds a socket to `address` as listen_tcp would but without SO_REUSEPORT, then closes
// it. A socket without SO_REUSEPORT cannot bind where any other socket listens (with or
// without SO_REUSEPORT) or is bound without SO_REUSEADDR, so this fails exactly when
// another socket holds the address; SO_REUSEADDR lets it ignore TIME_WAIT leftovers.
// Returns an Error "ADDRESS already in use by another socket" (EADDRINUSE), or the bind
// error as listen_tcp words it; the caller adds file, line, section and key.
// Sockets of this process count as "another socket" too: probe an address before this
// process binds it or anything that overlaps it (see binds_overlap).
Result<void> probe_listen_address(const SocketAddress& address);

// Whether sockets bound to `a` and `b` the way listen_tcp binds them (IPv6 ones
// IPV6_V6ONLY) compete for one port: same family and port, and the same address or one
// of them the wildcard (0.0.0.0 or [::]). 127.0.0.1:80 and 0.0.0.0:80 overlap;
// 0.0.0.0:80 and [::]:80 do not.
bool binds_overlap(const SocketAddress& a, const SocketAddress& b) noexcept;

}  // namespace arus
