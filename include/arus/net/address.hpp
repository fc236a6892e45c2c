// SocketAddress (IPv4 or IPv6, compact) and HOST:PORT parsing and resolution.
// Values are plain data; resolve() blocks on DNS and belongs to load time, never a worker.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "arus/core/result.hpp"

namespace arus {

class SocketAddress {
 public:
  SocketAddress() noexcept;
  // Copies an AF_INET or AF_INET6 address; anything else yields an empty address.
  static SocketAddress from_sockaddr(const sockaddr* addr, socklen_t length) noexcept;

  bool empty() const noexcept { return length_ == 0; }
  int family() const noexcept { return storage_.sa.sa_family; }
  const sockaddr* sockaddr_ptr() const noexcept { return &storage_.sa; }
  socklen_t length() const noexcept { return length_; }
  uint16_t port() const noexcept;

  // "127.0.0.1:80" or "[::1]:80".
  std::string to_string() const;
  // The address bytes alone (4 or 16), for hashing a client by source address.
  std::string_view ip_bytes() const noexcept;
  // 0.0.0.0 or [::] (any port), or empty: a listener bound here accepts on many
  // addresses, so its accepted sockets' own address must be asked of each.
  bool is_wildcard() const noexcept;

  friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

 private:
  union Storage {
    sockaddr sa;
    sockaddr_in v4;
    sockaddr_in6 v6;
  } storage_;
  socklen_t length_ = 0;
};

// For hash containers of addresses (listen addresses by the thousand on a reload):
// consistent with operator==.
struct SocketAddressHash {
  size_t operator()(const SocketAddress& address) const noexcept;
};

struct HostPort {
  std::string host;  // without brackets for IPv6 literals
  uint16_t port = 0;
};

// Splits "HOST:PORT" or "[IPV6]:PORT". Errors are bare reasons, e.g.
// "port 70000 out of range (1-65535)"; the caller adds file, line, section and key.
Result<HostPort> split_host_port(std::string_view text);

// Resolves an IPv4/IPv6 literal or a DNS name (first address getaddrinfo returns).
// Blocking: call at configuration load, never on a worker.
Result<SocketAddress> resolve(const HostPort& host_port);

// Every IPv4/IPv6 address getaddrinfo returns for a stream socket, in its order, each
// once (a literal gives itself). Never an empty list: no address is an error.
// Blocking, like resolve().
Result<std::vector<SocketAddress>> resolve_all(const HostPort& host_port);

// True when `host` is an IPv4 or IPv6 literal (no DNS involved), false for a name.
bool is_ip_literal(const std::string& host) noexcept;

// A way to turn HOST:PORT into an address: resolve() itself, or a stand-in (tests).
using AddressLookup = std::function<Result<SocketAddress>(const HostPort& host_port)>;

// The same for every address: resolve_all() or a stand-in (tests, or a lookup run on a
// resolver thread that records what it is waiting for).
using AddressesLookup =
    std::function<Result<std::vector<SocketAddress>>(const HostPort& host_port)>;

// resolve_all(), told who asks: `where` is a message prefix naming file, line, section
// and key ("proxy.conf:7: [route:web] backend: "), for an error about a lookup that never
// answered.
using NameLookup = std::function<Result<std::vector<SocketAddress>>(const HostPort& host_port,
                                                                    const std::string& where)>;

}  // namespace arus
