// Expanding and merging the addresses of backends written as DNS names.
#include "arus/config/backend_addresses.hpp"

#include <algorithm>
#include <tuple>

#include "arus/config/value_parsers.hpp"

namespace arus {
namespace {

bool address_less(const SocketAddress& a, const SocketAddress& b) {
  return std::make_tuple(a.family(), a.ip_bytes(), a.port(), a.to_string()) <
         std::make_tuple(b.family(), b.ip_bytes(), b.port(), b.to_string());
}

bool contains(const std::vector<SocketAddress>& set, const SocketAddress& address) {
  return std::find(set.begin(), set.end(), address) != set.end();
}

}  // namespace

Result<void> parse_dns_refresh_ms(std::string_view text, DnsConfig& dns) {
  Result<uint64_t> ms = parse_uint(text, 0, kMaxDnsRefreshMs);
  if (!ms) return Error{ms.error().message};
  if (*ms != 0 && *ms < kMinDnsRefreshMs) {
    return Error{std::to_string(*ms) + " out of range (0 = load and reload only, else " +
                 std::to_string(kMinDnsRefreshMs) + "-" + std::to_string(kMaxDnsRefreshMs) + ")"};
  }
  dns.refresh_ms = *ms;
  return {};
}

std::string backend_key(const BackendConfig& backend) {
  if (!backend.by_name) return backend.name;
  return backend.name + "=" + backend.address.to_string();
}

std::vector<SocketAddress> stable_address_order(std::vector<SocketAddress> addresses) {
  std::sort(addresses.begin(), addresses.end(), address_less);
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  return addresses;
}

AddressMerge merge_addresses(const std::vector<SocketAddress>& current,
                             const std::vector<SocketAddress>& answer) {
  AddressMerge merge;
  for (const SocketAddress& address : current) {
    if (contains(merge.kept, address) || contains(merge.removed, address)) continue;
    (contains(answer, address) ? merge.kept : merge.removed).push_back(address);
  }
  for (const SocketAddress& address : stable_address_order(answer)) {
    if (!contains(current, address)) merge.added.push_back(address);
  }
  return merge;
}

std::vector<SocketAddress> line_addresses(const RouteConfig& route, const std::string& name) {
  std::vector<SocketAddress> out;
  for (const BackendConfig& backend : route.backends) {
    if (backend.name == name) out.push_back(backend.address);
  }
  return out;
}

RouteConfig with_line_addresses(const RouteConfig& route, const std::string& name,
                                const AddressMerge& merge) {
  auto first = std::find_if(route.backends.begin(), route.backends.end(),
                            [&](const BackendConfig& b) { return b.name == name; });
  if (first == route.backends.end() || (merge.kept.empty() && merge.added.empty())) return route;
  const BackendConfig model = *first;
  RouteConfig out = route;
  out.backends.clear();
  size_t last = 0;  // where the line's last backend went in out.backends, plus one
  for (const BackendConfig& backend : route.backends) {
    if (backend.name == name) {
      if (!contains(merge.kept, backend.address)) continue;
      out.backends.push_back(backend);
      last = out.backends.size();
      continue;
    }
    out.backends.push_back(backend);
  }
  if (last == 0) {  // every old address went: the new ones take the line's first place
    last = static_cast<size_t>(first - route.backends.begin());
  }
  std::vector<BackendConfig> added;
  for (const SocketAddress& address : merge.added) {
    BackendConfig backend = model;
    backend.address = address;
    added.push_back(std::move(backend));
  }
  out.backends.insert(out.backends.begin() + static_cast<std::ptrdiff_t>(last), added.begin(),
                      added.end());
  return out;
}

}  // namespace arus
