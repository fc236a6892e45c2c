// Backends written as DNS names: every address a name resolves to is a backend of its
// own (a BackendConfig copied from the line), and a new answer is merged into the old
// set so that addresses that stay keep their identity (health, stats row, source_hash
// clients). Pure functions over plain data, safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "arus/config/config.hpp"
#include "arus/core/result.hpp"
#include "arus/net/address.hpp"

namespace arus {

// The range of dns_refresh_ms besides 0 (load and reload only): a name asked more often
// than every 100 ms would load its DNS server for nothing; 7 days as other timeouts.
inline constexpr uint64_t kMinDnsRefreshMs = 100;
inline constexpr uint64_t kMaxDnsRefreshMs = 604800000;

// dns_refresh_ms: 0, or kMinDnsRefreshMs - kMaxDnsRefreshMs. A bare reason on error.
Result<void> parse_dns_refresh_ms(std::string_view text, DnsConfig& dns);

// The identity of one backend within its route, across reloads and DNS refreshes: what
// the health hand-over, the stats rows and source_hash key on (and what per-backend caps,
// health checks and admin state should key on too). A line written with an IP literal
// is its HOST:PORT as written, as it always was; an address of a line written with a
// name is "NAME:PORT=IP:PORT", so one name's addresses are told apart and an address
// that stays across a refresh is the same backend.
std::string backend_key(const BackendConfig& backend);

// Orders addresses by family, address bytes, then port, each once: a DNS server that
// rotates its records (round-robin DNS) then changes nothing.
std::vector<SocketAddress> stable_address_order(std::vector<SocketAddress> addresses);

struct AddressMerge {
  std::vector<SocketAddress> kept;     // in both: in the current order
  std::vector<SocketAddress> added;    // only in the answer: in stable order
  std::vector<SocketAddress> removed;  // only in the current set: in the current order
  bool changed() const noexcept { return !added.empty() || !removed.empty(); }
};

// `current`: the addresses a line has now; `answer`: a new resolution of its name.
AddressMerge merge_addresses(const std::vector<SocketAddress>& current,
                             const std::vector<SocketAddress>& answer);

// The addresses of `route`'s backends written as `name`, in configuration order.
std::vector<SocketAddress> line_addresses(const RouteConfig& route, const std::string& name);

// `route` with its backends written as `name` replaced by kept + added: kept ones stay
// where they are (same BackendConfig), added ones follow the line's last backend as
// copies of its first (weight, line and every per-line option) with their own address,
// removed ones are dropped. Unchanged when `name` has no backend left to copy from or
// the merge would leave it with none.
RouteConfig with_line_addresses(const RouteConfig& route, const std::string& name,
                                const AddressMerge& merge);

}  // namespace arus
