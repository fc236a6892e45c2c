// The listen addresses of a configuration (routes and stats_listen) as keys with their
// place in the file, and the check that refuses one another socket holds before this
// process binds it. Stateless; call on the thread that starts or reloads.
#pragma once

#include <string>
#include <vector>

#include "arus/config/config.hpp"
#include "arus/core/result.hpp"
#include "arus/net/address.hpp"

namespace arus {

// One listen key: `[route:web] listen` or `[global] stats_listen`.
struct ListenKey {
  std::string section;  // "[route:web]" or "[global]"
  std::string key;      // "listen" or "stats_listen"
  int line = 0;         // of the key in the configuration file
  SocketAddress address;
};

ListenKey route_listen_key(const RouteConfig& route);
ListenKey stats_listen_key(const GlobalConfig& global);

// Every route's listen key in order, then stats_listen when it is set.
std::vector<ListenKey> listen_keys(const Config& config);

// "FILE:LINE: [SECTION] KEY: reason".
Error listen_error(const Config& config, const ListenKey& key, const std::string& reason);

// Refuses, before anything is bound, a listen address of `next` that another socket
// holds (probe_listen_address), naming file, line, section and key. `running` is the
// configuration this process serves (null at start): an address overlapping one of its
// listeners is this process's own (a kept listener, or one a reload is about to close)
// and is not probed, since the probe cannot tell our sockets from another process's.
Result<void> refuse_held_listen_addresses(const Config& next, const Config* running);

}  // namespace arus
