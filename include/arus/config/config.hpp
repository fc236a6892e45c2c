// Config: the immutable, validated configuration snapshot. Built once by the loader,
// then shared read-only (std::shared_ptr<const Config>) by every worker; safe to read
// from any thread because nothing mutates it after load.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "arus/config/admin_config.hpp"
#include "arus/config/health_check_config.hpp"
#include "arus/config/limits_config.hpp"
#include "arus/config/proxy_protocol_config.hpp"
#include "arus/config/route_list.hpp"
#include "arus/core/log.hpp"
#include "arus/net/address.hpp"

namespace arus {

// The first line each key of a section was written on, so checks after loading (the run
// user, filters, binding) can name the line at fault. A key left at its default is absent.
using KeyLines = std::map<std::string, int, std::less<>>;

enum class BalanceMode { kRoundRobin, kLeastConn, kSourceHash };

// One backend: a line written with an IP literal, or one address of a line written with
// a DNS name (each address the name resolves to is a BackendConfig of its own, a copy of
// the line's settings; see config/backend_addresses.hpp).
struct BackendConfig {
  std::string name;       // "HOST:PORT" exactly as written in the config: the metrics label
  SocketAddress address;  // resolved at load (for a name: one of its addresses)
  uint32_t weight = 1;    // 0-256; 0 = drained: kept, never picked for new connections
  uint32_t max_connections = 0;  // open connections at most (0 = no cap); full: skipped
  int line = 0;           // where it was written, for messages
  bool by_name = false;   // HOST is a DNS name, re-resolved every dns.refresh_ms
};

// [route:NAME] keys about backends written as DNS names.
struct DnsConfig {
  // dns_refresh_ms: how often each name is resolved again; 0 = only at load and reload.
  uint64_t refresh_ms = 30000;

  bool operator==(const DnsConfig&) const = default;
};

struct RouteConfig {
  std::string name;         // NAME of [route:NAME]
  std::string listen_name;  // "HOST:PORT" as written
  SocketAddress listen;
  std::vector<BackendConfig> backends;
  BalanceMode balance = BalanceMode::kRoundRobin;
  std::string filter;  // file name as written; empty = splice path
  std::string filter_args;
  uint64_t connect_timeout_ms = 3000;
  uint64_t idle_timeout_ms = 300000;  // 0 = none
  uint32_t retries = 2;
  uint64_t max_connections = 0;  // 0 = no per-route cap
  ProxyProtocolConfig proxy_protocol;
  HealthCheckConfig health_check;  // active checks (health_check* keys); off by default
  LimitsConfig limits;           // the backend queue, per-source and rate limits
  DnsConfig dns;
  int line = 0;                  // line of the [route:NAME] header
  KeyLines key_lines;
};

struct GlobalConfig {
  unsigned workers = 0;  // 0 = one per online CPU (resolved by main, not here)
  log::Level log_level = log::Level::kInfo;
  bool access_log = true;
  std::string stats_listen_name;  // empty = stats endpoint off
  SocketAddress stats_listen;
  std::string plugin_dir;  // as resolved against the config file's folder
  uint64_t max_connections = 100000;
  uint64_t grace_period_ms = 10000;
  std::string user;
  std::string group;
  AdminConfig admin;  // admin_listen, watch_config
  int line = 0;  // line of the [global] header; 0 when the file has none
  KeyLines key_lines;
};

struct Config {
  std::string path;    // the path given to -c, as given
  std::string source;  // the file's bytes, so a reload can skip identical content
  GlobalConfig global;
  RouteList<RouteConfig> routes;  // each in its own object: see route_list.hpp
};

using ConfigPtr = std::shared_ptr<const Config>;

}  // namespace arus
