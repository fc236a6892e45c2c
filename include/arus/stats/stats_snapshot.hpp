// StatsSnapshot: a plain copy of the stats table's sums at one moment, what the exporters
// render. Plain values with no lock and no pointer into the table: safe to move between
// threads and to render at leisure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace arus {

struct BackendSnapshot {
  std::string name;     // "HOST:PORT" as written in the config: the `backend` label
  bool up = true;
  uint64_t connections_total = 0;     // connections opened to this backend
  uint64_t connect_errors_total = 0;  // connect attempts that failed or timed out
  int64_t connections_active = 0;
  // Active health checks (zero while the route has none), read from the backend's health.
  uint64_t checks_ok = 0;
  uint64_t checks_failed = 0;
  uint64_t state_changes = 0;  // up -> down and down -> up, by checks or failed connects
  std::string last_error;      // why the last failed check failed; empty: none has
  std::string admin_state = "ready";  // the admin API's: ready | drain | disabled
  uint32_t weight = 1;                // as balancing uses it (the admin API's, if set)
  uint64_t max_connections = 0;  // the backend's cap, 0 = none
  // "IP:PORT" for an address of a line written as a DNS name (the `address` label);
  // empty for a line written with an IP literal, whose series keep their labels.
  std::string address;
};

struct RouteSnapshot {
  std::string name;
  std::string listen;              // "HOST:PORT" as written
  bool retired = false;            // gone from the config, still draining connections
  uint64_t connections_total = 0;  // client connections accepted, refused ones included
  int64_t connections_active = 0;
  uint64_t bytes_client_to_backend = 0;  // read from the client (before a filter)
  uint64_t bytes_backend_to_client = 0;  // read from the backend (before a filter)
  uint64_t refused_route_limit = 0;      // over the route's max_connections
  uint64_t refused_global_limit = 0;     // over [global] max_connections
  uint64_t refused_fds = 0;              // file descriptors exhausted
  uint64_t timeouts_connect = 0;         // connect_timeout_ms ran out (per attempt)
  uint64_t timeouts_idle = 0;            // idle_timeout_ms ran out
  uint64_t filter_closed = 0;            // the filter asked to close
  uint64_t proxy_header_errors = 0;      // accept_proxy: PROXY header missing, bad or slow
  uint64_t refused_backend_limit = 0;    // every backend full and no queue
  uint64_t refused_source_limit = 0;     // over max_connections_per_source
  uint64_t refused_rate_limit = 0;       // over rate_limit
  uint64_t refused_source_rate_limit = 0;  // over rate_limit_per_source
  uint64_t queue_timeouts = 0;           // waited queue_timeout_ms in vain
  uint64_t queue_length = 0;             // clients waiting for a backend slot now
  std::vector<BackendSnapshot> backends;
};

// arus_dns_resolutions_total for one backend line written as a DNS name.
struct DnsResolutionSnapshot {
  std::string route;
  std::string backend;  // NAME:PORT as written
  uint64_t ok = 0;
  uint64_t error = 0;
};

struct StatsSnapshot {
  std::string version;
  double start_time_seconds = 0;  // Unix time the process started
  uint64_t generation = 0;        // config generation: 1 after start-up, +1 per reload
  uint64_t reloads_ok = 0;
  uint64_t reloads_error = 0;
  uint64_t log_lines_dropped = 0;  // log lines stderr could not take in time (core/log)
  std::vector<int64_t> worker_connections_active;  // index = worker index
  std::vector<RouteSnapshot> routes;               // config order, then retired rows
  std::vector<DnsResolutionSnapshot> dns_resolutions;  // by route, then backend
};

}  // namespace arus
