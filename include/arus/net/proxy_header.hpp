// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2): parsing one
// from the first bytes of a connection and building one to send. Pure functions over
// plain data: no I/O, no allocation, safe from any thread. The bytes parsed come from
// the network, so every field is checked and every length bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "arus/net/address.hpp"

namespace arus {

enum class ProxyVersion : uint8_t { kV1 = 1, kV2 = 2 };

// v1: at most 107 bytes, CRLF included. v2: the 16-byte fixed part plus at most this
// much in all (the address block and any TLVs); a longer one is refused.
inline constexpr size_t kProxyV1MaxBytes = 107;
inline constexpr size_t kProxyV2MaxBytes = 2048;
// Enough to hold any header parse_proxy_header() can accept: peek this much.
inline constexpr size_t kProxyHeaderMaxBytes = kProxyV2MaxBytes;

enum class ProxyParseStatus : uint8_t {
  kNeedMore,   // a valid prefix of a header: wait for more bytes
  kComplete,   // a whole header of `length` bytes
  kMalformed,  // not a PROXY header, or one this proxy refuses (see `reason`)
};

struct ProxyParseResult {
  ProxyParseStatus status = ProxyParseStatus::kNeedMore;
  ProxyVersion version = ProxyVersion::kV1;  // kComplete, and kMalformed once detected
  size_t length = 0;  // kComplete: exact header length (the stream's own bytes follow)
  // kComplete: v1 "PROXY UNKNOWN" or v2 LOCAL: no addresses, keep the socket's own.
  bool local = false;
  SocketAddress source;       // kComplete and !local: the original client
  SocketAddress destination;  // kComplete and !local: the address it connected to
  const char* reason = "";    // kMalformed: a short static text for the log
};

// Reads a header from the start of `bytes` (what has arrived so far; may hold bytes of
// the stream after the header). Accepts v1 TCP4/TCP6/UNKNOWN and v2 PROXY over
// TCP/IPv4 or TCP/IPv6 (TLVs skipped) and v2 LOCAL (any family). Refuses everything
// else: a wrong signature, a v1 line over 107 bytes or with an out-of-range field, a v2
// header over 2048 bytes, another version or command, another family with PROXY.
ProxyParseResult parse_proxy_header(std::span<const uint8_t> bytes) noexcept;

// A built header: big enough for any v1 line (107 bytes) and any v2 header without TLVs
// (16 + 36 bytes).
struct ProxyHeaderBytes {
  uint8_t data[kProxyV1MaxBytes];
  size_t size = 0;
  std::span<const uint8_t> bytes() const noexcept { return {data, size}; }
};

// A header naming `source` (the client) and `destination` (the address it reached). When
// the two families differ the IPv4 one is written IPv4-mapped in IPv6 (TCP6 / AF_INET6).
// An empty address on either side gives the LOCAL header instead.
ProxyHeaderBytes build_proxy_header(ProxyVersion version, const SocketAddress& source,
                                    const SocketAddress& destination) noexcept;

// A header that names no client: v2 LOCAL (family UNSPEC, no address block), v1
// "PROXY UNKNOWN\r\n". For connections of the proxy's own, such as health checks.
ProxyHeaderBytes build_proxy_local_header(ProxyVersion version) noexcept;

}  // namespace arus
