// Parsers for single configuration values (numbers, booleans, names, addresses, backend
// specs, paths). Errors are bare reasons; the loader adds file, line, section and key.
// Stateless and safe from any thread; the address parsers block on their lookup (DNS).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "arus/config/config.hpp"
#include "arus/core/log.hpp"
#include "arus/core/result.hpp"
#include "arus/net/address.hpp"

namespace arus {

// Digits only, within [min, max]. Overflow reads as out of range, e.g.
// "70000 out of range (0-1024)"; anything else as "'x' is not a number (digits only)".
Result<uint64_t> parse_uint(std::string_view text, uint64_t min, uint64_t max);

// on/off, true/false, yes/no, 1/0 (letters in any case).
Result<bool> parse_bool(std::string_view text);

// round_robin | least_conn | source_hash.
Result<BalanceMode> parse_balance(std::string_view text);
std::string_view balance_name(BalanceMode mode);

// error | warn | info | debug.
Result<log::Level> parse_log_level(std::string_view text);

// HOST:PORT or [IPV6]:PORT, resolved now by `lookup` (resolve(): the first address;
// blocking).
Result<SocketAddress> parse_address(std::string_view text, const AddressLookup& lookup = resolve);

// stats_listen: empty means off (an empty address), else as parse_address.
Result<SocketAddress> parse_stats_listen(std::string_view text,
                                         const AddressLookup& lookup = resolve);

struct BackendSpec {
  std::string name;  // the HOST:PORT part as written
  SocketAddress address;  // the first of `addresses`
  // A literal: itself. A name: every address `lookup` returned, in stable_address_order.
  std::vector<SocketAddress> addresses;
  bool by_name = false;  // HOST is a DNS name, not an IP literal
  uint32_t weight = 1;
  uint32_t max_connections = 0;  // 0 = no cap
};

// "HOST:PORT" optionally followed by whitespace-separated options, each at most once:
// "weight=N" (N in 0-256), "max_connections=N" (0-10000000, 0 = none); HOST resolved by
// `lookup` (blocking).
Result<BackendSpec> parse_backend(std::string_view text,
                                  const AddressesLookup& lookup = resolve_all);

// A filter must name a file directly inside plugin_dir: no '/', not "." or "..".
Result<void> check_plugin_file_name(std::string_view name);

// Joins a relative `path` to the folder of `config_path` as given (symlinks not
// resolved): ("conf/proxy.conf", "c_plugins") -> "conf/c_plugins", ("proxy.conf",
// "c_plugins") -> "./c_plugins". An absolute `path` is returned unchanged. Trailing
// slashes of `path` are dropped (a lone "/" stays).
std::string resolve_relative_path(std::string_view config_path, std::string_view path);

}  // namespace arus
