// Unit tests for backends written as DNS names: the stable order, merging a new answer
// into the old set, rewriting a route's line, the identity key, dns_refresh_ms, and the
// loader turning one named line into one backend per address.
#include "arus/config/backend_addresses.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "arus/config/ini_loader.hpp"

namespace arus {
namespace {

SocketAddress ip(const std::string& host, uint16_t port = 5432) {
  return resolve(HostPort{host, port}).value();
}

std::vector<std::string> texts(const std::vector<SocketAddress>& addresses) {
  std::vector<std::string> out;
  for (const SocketAddress& a : addresses) out.push_back(a.to_string());
  return out;
}

using Texts = std::vector<std::string>;

TEST(BackendAddresses, StableOrderSortsAndDropsRepeats) {
  // A DNS server rotating its records gives the same order every time.
  Texts a = texts(stable_address_order(
      {ip("10.0.0.3"), ip("10.0.0.1"), ip("::1"), ip("10.0.0.2"), ip("10.0.0.1")}));
  Texts b =
      texts(stable_address_order({ip("10.0.0.2"), ip("::1"), ip("10.0.0.3"), ip("10.0.0.1")}));
  EXPECT_EQ(a, (Texts{"10.0.0.1:5432", "10.0.0.2:5432", "10.0.0.3:5432", "[::1]:5432"}));
  EXPECT_EQ(a, b);
}

TEST(BackendAddresses, MergeSortsKeptAddedAndRemoved) {
  AddressMerge m =
      merge_addresses({ip("10.0.0.2"), ip("10.0.0.1"), ip("10.0.0.3")},
                      {ip("10.0.0.4"), ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.0")});
  EXPECT_EQ(texts(m.kept), (Texts{"10.0.0.2:5432", "10.0.0.1:5432"}));  // the current order
  EXPECT_EQ(texts(m.added), (Texts{"10.0.0.0:5432", "10.0.0.4:5432"}));
  EXPECT_EQ(texts(m.removed), (Texts{"10.0.0.3:5432"}));
  EXPECT_TRUE(m.changed());
}

TEST(BackendAddresses, TheSameSetInAnotherOrderIsNoChange) {
  AddressMerge m =
      merge_addresses({ip("10.0.0.1"), ip("10.0.0.2")}, {ip("10.0.0.2"), ip("10.0.0.1")});
  EXPECT_FALSE(m.changed());
  EXPECT_EQ(m.kept.size(), 2u);
}

TEST(BackendAddresses, EverythingReplaced) {
  AddressMerge m = merge_addresses({ip("127.0.0.2")}, {ip("127.0.0.4"), ip("127.0.0.3")});
  EXPECT_TRUE(m.kept.empty());
  EXPECT_EQ(texts(m.added), (Texts{"127.0.0.3:5432", "127.0.0.4:5432"}));
  EXPECT_EQ(texts(m.removed), (Texts{"127.0.0.2:5432"}));
}

RouteConfig sample_route() {
  RouteConfig r;
  r.name = "db";
  auto add = [&r](const std::string& name, SocketAddress address, bool by_name, int line) {
    BackendConfig b;
    b.name = name;
    b.address = address;
    b.weight = 7;
    b.line = line;
    b.by_name = by_name;
    r.backends.push_back(b);
  };
  add("10.9.9.9:5432", ip("10.9.9.9"), false, 3);
  add("db.internal:5432", ip("10.0.0.1"), true, 4);
  add("db.internal:5432", ip("10.0.0.2"), true, 4);
  add("10.8.8.8:5432", ip("10.8.8.8"), false, 5);
  return r;
}

TEST(BackendAddresses, LineAddressesAreTheNamesBackendsInOrder) {
  EXPECT_EQ(texts(line_addresses(sample_route(), "db.internal:5432")),
            (Texts{"10.0.0.1:5432", "10.0.0.2:5432"}));
  EXPECT_TRUE(line_addresses(sample_route(), "other:1").empty());
}

TEST(BackendAddresses, RewritingALineKeepsPlacesAndCopiesTheLine) {
  RouteConfig route = sample_route();
  AddressMerge m =
      merge_addresses(line_addresses(route, "db.internal:5432"), {ip("10.0.0.2"), ip("10.0.0.3")});
  RouteConfig next = with_line_addresses(route, "db.internal:5432", m);
  ASSERT_EQ(next.backends.size(), 4u);
  EXPECT_EQ(next.backends[0].name, "10.9.9.9:5432");
  EXPECT_EQ(next.backends[1].address.to_string(), "10.0.0.2:5432");
  EXPECT_EQ(next.backends[2].address.to_string(), "10.0.0.3:5432");
  EXPECT_EQ(next.backends[3].name, "10.8.8.8:5432");
  for (size_t i : {1u, 2u}) {
    EXPECT_EQ(next.backends[i].name, "db.internal:5432");
    EXPECT_EQ(next.backends[i].weight, 7u);
    EXPECT_EQ(next.backends[i].line, 4);
    EXPECT_TRUE(next.backends[i].by_name);
  }
}

TEST(BackendAddresses, AWhollyNewSetTakesTheLinesPlace) {
  RouteConfig route = sample_route();
  AddressMerge m = merge_addresses(line_addresses(route, "db.internal:5432"), {ip("10.0.0.5")});
  RouteConfig next = with_line_addresses(route, "db.internal:5432", m);
  ASSERT_EQ(next.backends.size(), 3u);
  EXPECT_EQ(next.backends[1].name, "db.internal:5432");
  EXPECT_EQ(next.backends[1].address.to_string(), "10.0.0.5:5432");
  EXPECT_EQ(next.backends[2].name, "10.8.8.8:5432");
}

TEST(BackendAddresses, AnEmptyResultNeverEmptiesALine) {
  RouteConfig route = sample_route();
  AddressMerge m = merge_addresses(line_addresses(route, "db.internal:5432"), {});
  EXPECT_EQ(with_line_addresses(route, "db.internal:5432", m).backends.size(), 4u);
}

TEST(BackendAddresses, KeyIsTheWrittenNameForLiteralsAndAddsTheAddressForNames) {
  RouteConfig route = sample_route();
  EXPECT_EQ(backend_key(route.backends[0]), "10.9.9.9:5432");
  EXPECT_EQ(backend_key(route.backends[1]), "db.internal:5432=10.0.0.1:5432");
  EXPECT_NE(backend_key(route.backends[1]), backend_key(route.backends[2]));
}

TEST(BackendAddresses, DnsRefreshMsRange) {
  DnsConfig dns;
  EXPECT_EQ(dns.refresh_ms, 30000u);
  ASSERT_TRUE(parse_dns_refresh_ms("0", dns).ok());
  EXPECT_EQ(dns.refresh_ms, 0u);
  ASSERT_TRUE(parse_dns_refresh_ms("100", dns).ok());
  EXPECT_EQ(dns.refresh_ms, 100u);
  Result<void> small = parse_dns_refresh_ms("99", dns);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.error().message,
            "99 out of range (0 = load and reload only, else 100-604800000)");
  EXPECT_FALSE(parse_dns_refresh_ms("604800001", dns).ok());
  EXPECT_FALSE(parse_dns_refresh_ms("soon", dns).ok());
}

// The loader with a stand-in resolver: a name answers three addresses (one twice), a
// literal answers itself.
NameLookup fake_dns() {
  return [](const HostPort& host_port, const std::string&) -> Result<std::vector<SocketAddress>> {
    if (host_port.host == "db.internal") {
      return std::vector<SocketAddress>{
          ip("10.0.0.3", host_port.port), ip("10.0.0.1", host_port.port),
          ip("10.0.0.2", host_port.port), ip("10.0.0.1", host_port.port)};
    }
    if (host_port.host == "gone.internal") {
      return Error{"cannot resolve 'gone.internal': Name or service not known"};
    }
    return resolve_all(host_port);
  };
}

TEST(BackendAddresses, LoaderMakesOneBackendPerAddressOfAName) {
  Result<Config> r = parse_config(
      "[route:db]\nlisten = 127.0.0.1:6000\nbackend = 127.0.0.1:7000\n"
      "backend = db.internal:5432 weight=3\ndns_refresh_ms = 5000\n",
      "proxy.conf", fake_dns());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const RouteConfig& route = r->routes[0];
  EXPECT_EQ(route.dns.refresh_ms, 5000u);
  ASSERT_EQ(route.backends.size(), 4u);
  EXPECT_FALSE(route.backends[0].by_name);
  EXPECT_EQ(backend_key(route.backends[0]), "127.0.0.1:7000");
  Texts addresses;
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(route.backends[i].name, "db.internal:5432");
    EXPECT_EQ(route.backends[i].weight, 3u);
    EXPECT_EQ(route.backends[i].line, 4);
    EXPECT_TRUE(route.backends[i].by_name);
    addresses.push_back(route.backends[i].address.to_string());
  }
  EXPECT_EQ(addresses, (Texts{"10.0.0.1:5432", "10.0.0.2:5432", "10.0.0.3:5432"}));
}

TEST(BackendAddresses, LoaderRefusesANameThatDoesNotResolveAndABadRefresh) {
  Result<Config> gone =
      parse_config("[route:db]\nlisten = 127.0.0.1:6000\nbackend = gone.internal:5432\n",
                   "proxy.conf", fake_dns());
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().message,
            "proxy.conf:3: [route:db] backend: cannot resolve 'gone.internal': Name or service "
            "not known");
  Result<Config> bad = parse_config(
      "[route:db]\nlisten = 127.0.0.1:6000\nbackend = 127.0.0.1:7000\ndns_refresh_ms = 50\n",
      "proxy.conf", fake_dns());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "proxy.conf:4: [route:db] dns_refresh_ms: 50 out of range (0 = load and reload only, "
            "else 100-604800000)");
}

}  // namespace
}  // namespace arus
