// A small, fully populated StatsSnapshot shared by the exporter tests: one route with one
// backend, every counter a distinct value so a swapped field shows in the output.
#pragma once

#include "arus/stats/stats_snapshot.hpp"

namespace arus {

inline StatsSnapshot sample_snapshot(double start_time_seconds, bool backend_up) {
  StatsSnapshot s;
  s.version = "0.1.0";
  s.start_time_seconds = start_time_seconds;
  s.generation = 3;
  s.reloads_ok = 2;
  s.reloads_error = 1;
  s.log_lines_dropped = 9;
  s.worker_connections_active = {1, 0};
  RouteSnapshot& r = s.routes.emplace_back();
  r.name = "web";
  r.listen = "127.0.0.1:8080";
  r.connections_total = 10;
  r.connections_active = 1;
  r.bytes_client_to_backend = 100;
  r.bytes_backend_to_client = 200;
  r.refused_route_limit = 1;
  r.refused_global_limit = 2;
  r.refused_fds = 3;
  r.timeouts_connect = 4;
  r.timeouts_idle = 5;
  r.filter_closed = 6;
  r.proxy_header_errors = 11;
  BackendSnapshot& b = r.backends.emplace_back();
  b.name = "127.0.0.1:9001";
  b.up = backend_up;
  b.connections_total = 7;
  b.connect_errors_total = 8;
  b.connections_active = 1;
  b.checks_ok = 11;
  b.checks_failed = 12;
  b.state_changes = 13;
  b.last_error = "http status 503";
  return s;
}

}  // namespace arus
