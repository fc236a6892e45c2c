// SocketAddress formatting and comparison; HOST:PORT splitting and name resolution.
// Pure functions over plain data, safe from any thread; resolve() may block on DNS.
#include "arus/net/address.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

namespace arus {
namespace {

// Digits only, 1-65535; the reason names the offending text as written.
Result<uint16_t> parse_port(std::string_view text) {
  if (text.empty()) return Error{"missing port"};
  uint32_t port = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return Error{"port '" + std::string(text) + "' is not a number"};
    // Saturate instead of overflowing: anything past 65535 is out of range anyway.
    port = port > 65535 ? port : port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port < 1 || port > 65535) {
    return Error{"port " + std::string(text) + " out of range (1-65535)"};
  }
  return static_cast<uint16_t>(port);
}

// Names and IPv4 literals: letters, digits, '-', '.', '_'. Refusing anything else here
// keeps junk such as "a b" away from the DNS resolver.
bool valid_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

struct AddrinfoDeleter {
  void operator()(addrinfo* info) const noexcept { freeaddrinfo(info); }
};

}  // namespace

SocketAddress::SocketAddress() noexcept { std::memset(&storage_, 0, sizeof storage_); }

SocketAddress SocketAddress::from_sockaddr(const sockaddr* addr, socklen_t length) noexcept {
  SocketAddress out;
  if (addr == nullptr) return out;
  if (addr->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memcpy(&out.storage_.v4, addr, sizeof(sockaddr_in));
    out.length_ = sizeof(sockaddr_in);
  } else if (addr->sa_family == AF_INET6 &&
             length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    std::memcpy(&out.storage_.v6, addr, sizeof(sockaddr_in6));
    out.length_ = sizeof(sockaddr_in6);
  }
  return out;
}

uint16_t SocketAddress::port() const noexcept {
  if (length_ == 0) return 0;
  return ntohs(family() == AF_INET ? storage_.v4.sin_port : storage_.v6.sin6_port);
}

std::string SocketAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = "";
  if (length_ == 0) return std::string();
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &storage_.v4.sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(port());
  }
  inet_ntop(AF_INET6, &storage_.v6.sin6_addr, text, sizeof text);
  std::string out = "[";
  out += text;
  if (storage_.v6.sin6_scope_id != 0) {
    // Link-local addresses need their interface to round-trip through resolve().
    char name[IF_NAMESIZE] = "";
    out += '%';
    out += if_indextoname(storage_.v6.sin6_scope_id, name) != nullptr
               ? std::string(name)
               : std::to_string(storage_.v6.sin6_scope_id);
  }
  out += "]:";
  out += std::to_string(port());
  return out;
}

std::string_view SocketAddress::ip_bytes() const noexcept {
  if (length_ == 0) return std::string_view();
  if (family() == AF_INET) {
    return std::string_view(reinterpret_cast<const char*>(&storage_.v4.sin_addr), 4);
  }
  return std::string_view(reinterpret_cast<const char*>(&storage_.v6.sin6_addr), 16);
}

bool SocketAddress::is_wildcard() const noexcept {
  std::string_view bytes = ip_bytes();
  return std::all_of(bytes.begin(), bytes.end(), [](char byte) { return byte == 0; });
}

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
  if (a.length_ != b.length_) return false;
  if (a.length_ == 0) return true;
  if (a.family() != b.family() || a.port() != b.port()) return false;
  if (a.ip_bytes() != b.ip_bytes()) return false;
  // flowinfo is traffic labelling, not identity; the scope is part of the address.
  return a.family() == AF_INET || a.storage_.v6.sin6_scope_id == b.storage_.v6.sin6_scope_id;
}

size_t SocketAddressHash::operator()(const SocketAddress& address) const noexcept {
  // The scope id is left out: equal addresses still hash alike.
  size_t h = std::hash<std::string_view>{}(address.ip_bytes());
  return h ^ (static_cast<size_t>(address.port()) << 1) ^ static_cast<size_t>(address.family());
}

Result<HostPort> split_host_port(std::string_view text) {
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return Error{"bad brackets: missing ']'"};
    std::string_view host = text.substr(1, close - 1);
    if (host.empty()) return Error{"missing host"};
    if (host.find(':') == std::string_view::npos) {
      return Error{"bad brackets: only IPv6 addresses go in brackets"};
    }
    if (host.find_first_of("[] \t") != std::string_view::npos) {
      return Error{"bad brackets: invalid host '" + std::string(host) + "'"};
    }
    std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return Error{"missing port"};
    if (rest.front() != ':') return Error{"bad brackets: expected ':' after ']'"};
    out.host = std::string(host);
    port_text = rest.substr(1);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Error{"missing port"};
    std::string_view host = text.substr(0, colon);
    if (host.find(']') != std::string_view::npos) return Error{"bad brackets: missing '['"};
    if (host.find(':') != std::string_view::npos) {
      return Error{"IPv6 address must be in brackets, e.g. [::1]:80"};
    }
    if (host.empty()) return Error{"missing host (use 0.0.0.0 or [::] for any address)"};
    for (char c : host) {
      if (!valid_host_char(c)) return Error{"invalid host '" + std::string(host) + "'"};
    }
    out.host = std::string(host);
    port_text = text.substr(colon + 1);
  }
  Result<uint16_t> port = parse_port(port_text);
  if (!port) return Error{port.error().message};
  out.port = port.value();
  return out;
}

Result<SocketAddress> resolve(const HostPort& host_port) {
  Result<std::vector<SocketAddress>> all = resolve_all(host_port);
  if (!all) return std::move(all).error();
  return all->front();
}

namespace {

// A plain IPv4 or IPv6 literal (no scope, no short forms such as "127.1", which only
// getaddrinfo reads), parsed without getaddrinfo: a reload of thousands of routes reads
// tens of thousands of them, and each getaddrinfo allocates. Null for anything else.
std::optional<SocketAddress> plain_literal(const std::string& host, uint16_t port) {
  sockaddr_storage storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(v4), sizeof(sockaddr_in));
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(v6),
                                        sizeof(sockaddr_in6));
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<SocketAddress>> resolve_all(const HostPort& host_port) {
  if (auto literal = plain_literal(host_port.host, host_port.port)) {
    return std::vector<SocketAddress>{*literal};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  // Literals first, without touching DNS; a name is looked up only if that fails. An
  // IPv6 literal (it has a ':') never falls through to a lookup.
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* raw = nullptr;
  int rc = getaddrinfo(host_port.host.c_str(), nullptr, &hints, &raw);
  if (rc == EAI_NONAME && host_port.host.find(':') == std::string::npos) {
    hints.ai_flags = 0;
    rc = getaddrinfo(host_port.host.c_str(), nullptr, &hints, &raw);
  }
  if (rc != 0) {
    std::string reason = rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc);
    return Error{"cannot resolve '" + host_port.host + "': " + reason};
  }
  std::unique_ptr<addrinfo, AddrinfoDeleter> list(raw);
  std::vector<SocketAddress> out;
  for (const addrinfo* info = raw; info != nullptr; info = info->ai_next) {
    // The port is set here rather than passed as a service so "80" never meets
    // /etc/services and every family gets it the same way.
    sockaddr_storage copy{};
    if (info->ai_family == AF_INET && info->ai_addrlen >= sizeof(sockaddr_in)) {
      std::memcpy(&copy, info->ai_addr, sizeof(sockaddr_in));
      reinterpret_cast<sockaddr_in*>(&copy)->sin_port = htons(host_port.port);
    } else if (info->ai_family == AF_INET6 && info->ai_addrlen >= sizeof(sockaddr_in6)) {
      std::memcpy(&copy, info->ai_addr, sizeof(sockaddr_in6));
      reinterpret_cast<sockaddr_in6*>(&copy)->sin6_port = htons(host_port.port);
    } else {
      continue;
    }
    SocketAddress address =
        SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&copy), info->ai_addrlen);
    // With only ai_socktype set, glibc answers each address once per protocol it knows
    // for it; and /etc/hosts may list an address twice.
    if (std::find(out.begin(), out.end(), address) == out.end()) out.push_back(address);
  }
  if (out.empty()) return Error{"cannot resolve '" + host_port.host + "': no IPv4 or IPv6 address"};
  return out;
}

bool is_ip_literal(const std::string& host) noexcept {
  if (plain_literal(host, 0)) return true;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* raw = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &raw) != 0) return false;
  freeaddrinfo(raw);
  return true;
}

}  // namespace arus
