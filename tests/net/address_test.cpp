// Tests for SocketAddress and HOST:PORT splitting/resolution. Needs no DNS beyond
// "localhost" from /etc/hosts; the ".invalid" case is skipped if the resolver stalls.
#include "arus/net/address.hpp"

#include <gtest/gtest.h>

#include <unordered_set>
#include <netdb.h>
#include <sys/un.h>

#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "../support/dns_probe.hpp"

namespace arus {
namespace {

std::string split_error(std::string_view text) {
  Result<HostPort> r = split_host_port(text);
  return r ? "OK " + r->host + " " + std::to_string(r->port) : r.error().message;
}

SocketAddress must_resolve(const std::string& host, uint16_t port) {
  Result<SocketAddress> r = resolve(HostPort{host, port});
  EXPECT_TRUE(r.ok()) << (r ? "" : r.error().message);
  return r ? r.value() : SocketAddress();
}

TEST(SplitHostPort, AcceptsIpv4NameAndBracketedIpv6) {
  EXPECT_EQ(split_error("127.0.0.1:80"), "OK 127.0.0.1 80");
  EXPECT_EQ(split_error("localhost:65535"), "OK localhost 65535");
  EXPECT_EQ(split_error("backend-1.example_x.com:1"), "OK backend-1.example_x.com 1");
  EXPECT_EQ(split_error("[::1]:8080"), "OK ::1 8080");
  EXPECT_EQ(split_error("[fe80::1%lo]:80"), "OK fe80::1%lo 80");
  EXPECT_EQ(split_error("10.0.0.1:080"), "OK 10.0.0.1 80");
}

TEST(SplitHostPort, MissingPort) {
  EXPECT_EQ(split_error("127.0.0.1"), "missing port");
  EXPECT_EQ(split_error("127.0.0.1:"), "missing port");
  EXPECT_EQ(split_error("[::1]"), "missing port");
  EXPECT_EQ(split_error("[::1]:"), "missing port");
  EXPECT_EQ(split_error(""), "missing port");
}

TEST(SplitHostPort, PortOutOfRangeOrNotANumber) {
  EXPECT_EQ(split_error("127.0.0.1:0"), "port 0 out of range (1-65535)");
  EXPECT_EQ(split_error("127.0.0.1:65536"), "port 65536 out of range (1-65535)");
  EXPECT_EQ(split_error("127.0.0.1:70000"), "port 70000 out of range (1-65535)");
  EXPECT_EQ(split_error("h:99999999999999999999999"),
            "port 99999999999999999999999 out of range (1-65535)");
  EXPECT_EQ(split_error("127.0.0.1:http"), "port 'http' is not a number");
  EXPECT_EQ(split_error("127.0.0.1:-1"), "port '-1' is not a number");
  EXPECT_EQ(split_error("127.0.0.1: 80"), "port ' 80' is not a number");
}

TEST(SplitHostPort, BadBrackets) {
  EXPECT_EQ(split_error("[::1:80"), "bad brackets: missing ']'");
  EXPECT_EQ(split_error("::1]:80"), "bad brackets: missing '['");
  EXPECT_EQ(split_error("[::1]80"), "bad brackets: expected ':' after ']'");
  EXPECT_EQ(split_error("[127.0.0.1]:80"), "bad brackets: only IPv6 addresses go in brackets");
  EXPECT_EQ(split_error("[]:80"), "missing host");
}

TEST(SplitHostPort, BadHost) {
  EXPECT_EQ(split_error("::1:80"), "IPv6 address must be in brackets, e.g. [::1]:80");
  EXPECT_EQ(split_error(":80"), "missing host (use 0.0.0.0 or [::] for any address)");
  EXPECT_EQ(split_error("a b:80"), "invalid host 'a b'");
}

TEST(Resolve, Ipv4Literal) {
  SocketAddress a = must_resolve("127.0.0.1", 8080);
  EXPECT_EQ(a.family(), AF_INET);
  EXPECT_EQ(a.length(), sizeof(sockaddr_in));
  EXPECT_EQ(a.port(), 8080);
  EXPECT_EQ(a.to_string(), "127.0.0.1:8080");
}

TEST(Resolve, Ipv6Literal) {
  SocketAddress a = must_resolve("::1", 443);
  EXPECT_EQ(a.family(), AF_INET6);
  EXPECT_EQ(a.length(), sizeof(sockaddr_in6));
  EXPECT_EQ(a.port(), 443);
  EXPECT_EQ(a.to_string(), "[::1]:443");
}

// Plain literals are read without getaddrinfo (a reload reads thousands): the same
// addresses as getaddrinfo's, and the forms only getaddrinfo reads still read.
TEST(Resolve, LiteralsReadWithoutGetaddrinfoEqualItsAnswers) {
  for (const char* host :
       {"127.0.0.1", "10.1.2.3", "0.0.0.0", "::1", "::", "fe80::1:2", "::ffff:10.0.0.1"}) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    addrinfo* raw = nullptr;
    ASSERT_EQ(getaddrinfo(host, "81", &hints, &raw), 0) << host;
    SocketAddress expected = SocketAddress::from_sockaddr(raw->ai_addr, raw->ai_addrlen);
    freeaddrinfo(raw);
    EXPECT_EQ(must_resolve(host, 81), expected) << host;
    EXPECT_TRUE(is_ip_literal(host)) << host;
  }
  EXPECT_EQ(must_resolve("127.1", 80).to_string(), "127.0.0.1:80") << "inet_aton's short form";
  EXPECT_TRUE(is_ip_literal("127.1"));
  EXPECT_FALSE(is_ip_literal("localhost"));
}

TEST(Resolve, LocalhostIsLoopback) {
  SocketAddress a = must_resolve("localhost", 9000);
  EXPECT_EQ(a.port(), 9000);
  EXPECT_TRUE(a.to_string() == "127.0.0.1:9000" || a.to_string() == "[::1]:9000") << a.to_string();
}

TEST(Resolve, UnknownNameFails) {
  if (!invalid_names_fail_fast()) GTEST_SKIP() << "resolver does not fail fast on .invalid";
  Result<SocketAddress> r = resolve(HostPort{"no-such-host.invalid", 80});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("cannot resolve 'no-such-host.invalid': ", 0), 0u)
      << r.error().message;
}

TEST(SocketAddress, ToStringRoundTrips) {
  for (const char* text : {"127.0.0.1:1", "10.20.30.40:65535", "0.0.0.0:80", "[::1]:80",
                           "[2001:db8::17]:9001", "[::]:8080", "[::ffff:10.0.0.1]:7"}) {
    Result<HostPort> split = split_host_port(text);
    ASSERT_TRUE(split.ok()) << text;
    SocketAddress a = must_resolve(split->host, split->port);
    EXPECT_EQ(a.to_string(), text);
    Result<HostPort> again = split_host_port(a.to_string());
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(must_resolve(again->host, again->port) == a) << text;
  }
}

TEST(SocketAddress, EmptyByDefault) {
  SocketAddress a;
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.length(), 0u);
  EXPECT_EQ(a.port(), 0);
  EXPECT_EQ(a.to_string(), "");
  EXPECT_TRUE(a.ip_bytes().empty());
}

TEST(SocketAddress, IpBytes) {
  SocketAddress v4 = must_resolve("127.0.0.1", 1);
  EXPECT_EQ(v4.ip_bytes(), std::string_view("\x7f\x00\x00\x01", 4));
  SocketAddress v6 = must_resolve("::1", 1);
  EXPECT_EQ(v6.ip_bytes(), std::string(15, '\0') + '\x01');
  // The port is not part of the bytes hashed for source_hash.
  EXPECT_EQ(must_resolve("127.0.0.1", 2).ip_bytes(), v4.ip_bytes());
}

TEST(SocketAddress, IsWildcard) {
  EXPECT_TRUE(must_resolve("0.0.0.0", 80).is_wildcard());
  EXPECT_TRUE(must_resolve("::", 80).is_wildcard());
  EXPECT_TRUE(SocketAddress().is_wildcard());  // no address: ask the socket, as for any
  EXPECT_FALSE(must_resolve("127.0.0.1", 80).is_wildcard());
  EXPECT_FALSE(must_resolve("::1", 80).is_wildcard());
  EXPECT_FALSE(must_resolve("0.0.0.1", 80).is_wildcard());
  EXPECT_FALSE(must_resolve("::ffff:0.0.0.0", 80).is_wildcard());  // one v4 address
}

TEST(SocketAddress, Equality) {
  SocketAddress a = must_resolve("127.0.0.1", 80);
  EXPECT_TRUE(a == must_resolve("127.0.0.1", 80));
  EXPECT_FALSE(a == must_resolve("127.0.0.1", 81));
  EXPECT_FALSE(a == must_resolve("127.0.0.2", 80));
  EXPECT_FALSE(a == must_resolve("::ffff:127.0.0.1", 80));
  EXPECT_FALSE(a == SocketAddress());
  EXPECT_TRUE(SocketAddress() == SocketAddress());
  SocketAddress b = must_resolve("::1", 80);
  EXPECT_TRUE(b == must_resolve("::1", 80));
  EXPECT_FALSE(b == must_resolve("::2", 80));
}

TEST(SocketAddress, FromSockaddr) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(1234);
  in.sin_addr.s_addr = htonl(0x0a000001);
  SocketAddress a = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&in), sizeof in);
  EXPECT_EQ(a.to_string(), "10.0.0.1:1234");

  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_TRUE(SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&un), sizeof un).empty());
  // A length too short for the family is refused rather than over-read.
  EXPECT_TRUE(SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&in), 4).empty());
  EXPECT_TRUE(SocketAddress::from_sockaddr(nullptr, 0).empty());
}

TEST(SocketAddressHash, EqualAddressesHashAlikeAndSetsFindThem) {
  auto at = [](const char* host, uint16_t port) { return resolve(HostPort{host, port}).value(); };
  SocketAddressHash hash;
  EXPECT_EQ(hash(at("127.0.0.1", 80)), hash(at("127.0.0.1", 80)));
  EXPECT_EQ(hash(at("::1", 80)), hash(at("::1", 80)));
  std::unordered_set<SocketAddress, SocketAddressHash> set{at("127.0.0.1", 80), at("::1", 80)};
  EXPECT_TRUE(set.contains(at("127.0.0.1", 80)));
  EXPECT_TRUE(set.contains(at("::1", 80)));
  EXPECT_FALSE(set.contains(at("127.0.0.1", 81)));
  EXPECT_FALSE(set.contains(at("127.0.0.2", 80)));
}

}  // namespace
}  // namespace arus
