// PROXY protocol v1/v2 parsing and building (see proxy_header.hpp). Defensive: every
// read is bounded by the bytes given, nothing is allocated, and a header is judged from
// its first bytes on, so garbage is refused without waiting for more of it.
#include "arus/net/proxy_header.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <string_view>

namespace arus {
namespace {

constexpr uint8_t kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr size_t kV2FixedBytes = 16;
constexpr uint8_t kV2VersionNibble = 0x2;
constexpr uint8_t kV2CommandLocal = 0x0;
constexpr uint8_t kV2CommandProxy = 0x1;
constexpr uint8_t kV2TcpIpv4 = 0x11;  // AF_INET, STREAM
constexpr uint8_t kV2TcpIpv6 = 0x21;  // AF_INET6, STREAM
constexpr uint8_t kV2Unspec = 0x00;
constexpr size_t kV2Ipv4Block = 12;  // two addresses of 4 bytes, two ports
constexpr size_t kV2Ipv6Block = 36;  // two addresses of 16 bytes, two ports
constexpr std::string_view kV1Prefix = "PROXY ";

ProxyParseResult need_more() noexcept { return {}; }

ProxyParseResult malformed(const char* reason, ProxyVersion version = ProxyVersion::kV1) noexcept {
  ProxyParseResult result;
  result.status = ProxyParseStatus::kMalformed;
  result.version = version;
  result.reason = reason;
  return result;
}

// True when the first min(size, prefix size) bytes agree with `prefix`.
bool matches_prefix(std::span<const uint8_t> bytes, const uint8_t* prefix, size_t prefix_size) {
  size_t n = bytes.size() < prefix_size ? bytes.size() : prefix_size;
  return std::memcmp(bytes.data(), prefix, n) == 0;
}

// The address a header names: `ip_size` (4 or 16) bytes of IPv4 or IPv6 address, and a
// port already in network order.
SocketAddress header_address(size_t ip_size, const uint8_t* ip,
                             uint16_t port_network_order) noexcept {
  if (ip_size == 4) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    std::memcpy(&addr.sin_addr, ip, 4);
    addr.sin_port = port_network_order;
    return SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  }
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  std::memcpy(&addr.sin6_addr, ip, 16);
  addr.sin6_port = port_network_order;
  return SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
}

// --- v1 -----------------------------------------------------------------------------

// Takes the next field up to a single space (or the end of `rest`). Empty fields (two
// spaces) are refused by the callers.
std::string_view next_field(std::string_view& rest) noexcept {
  size_t space = rest.find(' ');
  std::string_view field = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  return field;
}

// A v1 port: decimal 0-65535, no sign, no leading zero (as HAProxy writes them).
bool parse_v1_port(std::string_view text, uint16_t& port_network_order) noexcept {
  if (text.empty() || text.size() > 5) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return false;
  port_network_order = htons(static_cast<uint16_t>(value));
  return true;
}

// A v1 address of `family` (AF_INET for TCP4, AF_INET6 for TCP6) into `ip`.
bool parse_v1_ip(std::string_view text, int family, uint8_t* ip) noexcept {
  char copy[INET6_ADDRSTRLEN];  // inet_pton wants a NUL-terminated string
  if (text.empty() || text.size() >= sizeof copy) return false;
  std::memcpy(copy, text.data(), text.size());
  copy[text.size()] = '\0';
  return inet_pton(family, copy, ip) == 1;
}

// `line` is the header without "PROXY " and without its CRLF.
ProxyParseResult parse_v1_line(std::string_view line, size_t length) noexcept {
  std::string_view rest = line;
  std::string_view protocol = next_field(rest);
  ProxyParseResult result;
  result.status = ProxyParseStatus::kComplete;
  result.version = ProxyVersion::kV1;
  result.length = length;
  if (protocol == "UNKNOWN") {
    // The rest of the line, if any, may be anything and is ignored.
    result.local = true;
    return result;
  }
  int family = 0;
  if (protocol == "TCP4") {
    family = AF_INET;
  } else if (protocol == "TCP6") {
    family = AF_INET6;
  } else {
    return malformed("v1: unknown protocol (expected TCP4, TCP6 or UNKNOWN)");
  }
  std::string_view fields[4];
  for (std::string_view& field : fields) {
    if (rest.empty()) return malformed("v1: missing field");
    field = next_field(rest);
    if (field.empty()) return malformed("v1: empty field (two spaces)");
  }
  if (!rest.empty() || line.back() == ' ') return malformed("v1: extra field");
  uint8_t source_ip[16];
  uint8_t destination_ip[16];
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  if (!parse_v1_ip(fields[0], family, source_ip)) return malformed("v1: bad source address");
  if (!parse_v1_ip(fields[1], family, destination_ip)) {
    return malformed("v1: bad destination address");
  }
  if (!parse_v1_port(fields[2], source_port)) return malformed("v1: bad source port");
  if (!parse_v1_port(fields[3], destination_port)) return malformed("v1: bad destination port");
  const size_t ip_size = family == AF_INET ? 4 : 16;
  result.source = header_address(ip_size, source_ip, source_port);
  result.destination = header_address(ip_size, destination_ip, destination_port);
  return result;
}

ProxyParseResult parse_v1(std::span<const uint8_t> bytes) noexcept {
  const size_t scan = bytes.size() < kProxyV1MaxBytes ? bytes.size() : kProxyV1MaxBytes;
  const char* text = reinterpret_cast<const char*>(bytes.data());
  for (size_t i = 0; i < scan; ++i) {
    const char c = text[i];
    if (c == '\n') {
      if (i == 0 || text[i - 1] != '\r') return malformed("v1: line ends without CR");
      return parse_v1_line(std::string_view(text + kV1Prefix.size(), i - 1 - kV1Prefix.size()),
                           i + 1);
    }
    // A CR only just before the LF; no other control byte anywhere in the line.
    if (c == '\r' && i + 1 < scan && text[i + 1] != '\n') return malformed("v1: stray CR");
    if (c != '\r' && (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)) {
      return malformed("v1: control byte in the line");
    }
  }
  if (bytes.size() >= kProxyV1MaxBytes) return malformed("v1: no CRLF within 107 bytes");
  return need_more();
}

// --- v2 -----------------------------------------------------------------------------

ProxyParseResult parse_v2(std::span<const uint8_t> bytes) noexcept {
  constexpr ProxyVersion v2 = ProxyVersion::kV2;
  if (bytes.size() < kV2FixedBytes) return need_more();
  const uint8_t version = bytes[12] >> 4;
  const uint8_t command = bytes[12] & 0x0F;
  const uint8_t family = bytes[13];
  const size_t block = static_cast<size_t>(bytes[14]) << 8 | bytes[15];
  const size_t length = kV2FixedBytes + block;
  if (version != kV2VersionNibble) return malformed("v2: unknown version", v2);
  if (command != kV2CommandLocal && command != kV2CommandProxy) {
    return malformed("v2: unknown command", v2);
  }
  if (length > kProxyV2MaxBytes) return malformed("v2: header longer than 2048 bytes", v2);
  if (command == kV2CommandProxy) {
    if (family != kV2TcpIpv4 && family != kV2TcpIpv6) {
      return malformed("v2: unsupported family (only TCP over IPv4 or IPv6)", v2);
    }
    if (block < (family == kV2TcpIpv4 ? kV2Ipv4Block : kV2Ipv6Block)) {
      return malformed("v2: address block too short for its family", v2);
    }
  }
  if (bytes.size() < length) return need_more();

  ProxyParseResult result;
  result.status = ProxyParseStatus::kComplete;
  result.version = v2;
  result.length = length;
  if (command == kV2CommandLocal) {
    result.local = true;
    return result;
  }
  const uint8_t* block_start = bytes.data() + kV2FixedBytes;
  const size_t ip_size = family == kV2TcpIpv4 ? 4 : 16;
  uint16_t source_port;
  uint16_t destination_port;
  // Already in network order, as sockaddr wants them.
  std::memcpy(&source_port, block_start + 2 * ip_size, 2);
  std::memcpy(&destination_port, block_start + 2 * ip_size + 2, 2);
  result.source = header_address(ip_size, block_start, source_port);
  result.destination = header_address(ip_size, block_start + ip_size, destination_port);
  return result;  // TLVs after the addresses are skipped with the rest of `length`
}

// --- building -----------------------------------------------------------------------

// The address as 16 bytes of IPv6: itself, or IPv4-mapped (::ffff:a.b.c.d).
void ipv6_bytes(const SocketAddress& address, uint8_t* out) noexcept {
  std::string_view ip = address.ip_bytes();
  if (address.family() == AF_INET6) {
    std::memcpy(out, ip.data(), 16);
    return;
  }
  std::memset(out, 0, 10);
  out[10] = 0xFF;
  out[11] = 0xFF;
  std::memcpy(out + 12, ip.data(), 4);
}

void append(ProxyHeaderBytes& out, const void* data, size_t size) noexcept {
  std::memcpy(out.data + out.size, data, size);
  out.size += size;
}

void append_text(ProxyHeaderBytes& out, std::string_view text) noexcept {
  append(out, text.data(), text.size());
}

ProxyHeaderBytes build_v1(const SocketAddress& source, const SocketAddress& destination) noexcept {
  const bool ipv6 = source.family() == AF_INET6 || destination.family() == AF_INET6;
  char source_text[INET6_ADDRSTRLEN];
  char destination_text[INET6_ADDRSTRLEN];
  uint8_t ip[16];
  if (ipv6) {
    ipv6_bytes(source, ip);
    inet_ntop(AF_INET6, ip, source_text, sizeof source_text);
    ipv6_bytes(destination, ip);
    inet_ntop(AF_INET6, ip, destination_text, sizeof destination_text);
  } else {
    inet_ntop(AF_INET, source.ip_bytes().data(), source_text, sizeof source_text);
    inet_ntop(AF_INET, destination.ip_bytes().data(), destination_text, sizeof destination_text);
  }
  // inet_ntop writes an IPv6 address in at most 39 characters (its IPv4-embedding forms,
  // ::ffff:a.b.c.d, are shorter), so the line is at most 104 bytes and always fits.
  ProxyHeaderBytes out;
  int n = std::snprintf(reinterpret_cast<char*>(out.data), sizeof out.data,
                        "PROXY %s %s %s %u %u\r\n", ipv6 ? "TCP6" : "TCP4", source_text,
                        destination_text, static_cast<unsigned>(source.port()),
                        static_cast<unsigned>(destination.port()));
  out.size = n > 0 && static_cast<size_t>(n) < sizeof out.data ? static_cast<size_t>(n) : 0;
  return out;
}

ProxyHeaderBytes build_v2(const SocketAddress& source, const SocketAddress& destination) noexcept {
  const bool ipv6 = source.family() == AF_INET6 || destination.family() == AF_INET6;
  ProxyHeaderBytes out;
  append(out, kV2Signature, sizeof kV2Signature);
  const uint8_t fixed[4] = {kV2VersionNibble << 4 | kV2CommandProxy, ipv6 ? kV2TcpIpv6 : kV2TcpIpv4,
                            0, static_cast<uint8_t>(ipv6 ? kV2Ipv6Block : kV2Ipv4Block)};
  append(out, fixed, sizeof fixed);
  if (ipv6) {
    uint8_t ip[16];
    ipv6_bytes(source, ip);
    append(out, ip, 16);
    ipv6_bytes(destination, ip);
    append(out, ip, 16);
  } else {
    append_text(out, source.ip_bytes());
    append_text(out, destination.ip_bytes());
  }
  const uint16_t ports[2] = {htons(source.port()), htons(destination.port())};
  append(out, ports, sizeof ports);
  return out;
}

}  // namespace

ProxyParseResult parse_proxy_header(std::span<const uint8_t> bytes) noexcept {
  if (bytes.empty()) return need_more();
  if (bytes[0] == kV1Prefix[0]) {
    if (!matches_prefix(bytes, reinterpret_cast<const uint8_t*>(kV1Prefix.data()),
                        kV1Prefix.size())) {
      return malformed("not a PROXY header");
    }
    if (bytes.size() <= kV1Prefix.size()) return need_more();
    return parse_v1(bytes);
  }
  if (bytes[0] == kV2Signature[0]) {
    if (!matches_prefix(bytes, kV2Signature, sizeof kV2Signature)) {
      return malformed("v2: wrong signature", ProxyVersion::kV2);
    }
    return parse_v2(bytes);
  }
  return malformed("not a PROXY header");
}

ProxyHeaderBytes build_proxy_header(ProxyVersion version, const SocketAddress& source,
                                    const SocketAddress& destination) noexcept {
  if (source.empty() || destination.empty()) return build_proxy_local_header(version);
  return version == ProxyVersion::kV1 ? build_v1(source, destination)
                                      : build_v2(source, destination);
}

ProxyHeaderBytes build_proxy_local_header(ProxyVersion version) noexcept {
  ProxyHeaderBytes out;
  if (version == ProxyVersion::kV1) {
    append_text(out, "PROXY UNKNOWN\r\n");
    return out;
  }
  append(out, kV2Signature, sizeof kV2Signature);
  const uint8_t fixed[4] = {kV2VersionNibble << 4 | kV2CommandLocal, kV2Unspec, 0, 0};
  append(out, fixed, sizeof fixed);
  return out;
}

}  // namespace arus
