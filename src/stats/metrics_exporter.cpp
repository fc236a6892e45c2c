// Prometheus text format writer: one family at a time, so a family's samples stay
// together as the format requires.
#include "arus/stats/metrics_exporter.hpp"

#include <cinttypes>
#include <cstdio>
#include <initializer_list>
#include <string_view>
#include <utility>

#include "arus/stats/text_escape.hpp"

namespace arus {
namespace {

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;  // constant text: no backslash or newline to escape
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample_head(std::string& out, std::string_view name, Labels labels) {
  out += name;
  if (labels.size() == 0) return;
  out += '{';
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += key;
    out += "=\"";
    append_label_value(out, value);
    out += '"';
  }
  out += '}';
}

void sample(std::string& out, std::string_view name, Labels labels, uint64_t value) {
  sample_head(out, name, labels);
  char buf[32];
  snprintf(buf, sizeof buf, " %" PRIu64 "\n", value);
  out += buf;
}

void sample(std::string& out, std::string_view name, Labels labels, int64_t value) {
  sample_head(out, name, labels);
  char buf[32];
  snprintf(buf, sizeof buf, " %" PRId64 "\n", value);
  out += buf;
}

void sample(std::string& out, std::string_view name, Labels labels, double value) {
  sample_head(out, name, labels);
  char buf[48];
  snprintf(buf, sizeof buf, " %.3f\n", value);
  out += buf;
}

// One family with one sample per route, `field` picking the value.
template <class Field>
void route_family(std::string& out, const StatsSnapshot& s, std::string_view name,
                  std::string_view type, std::string_view help, Field field) {
  family(out, name, type, help);
  for (const RouteSnapshot& r : s.routes) sample(out, name, {{"route", r.name}}, field(r));
}

// One family with one sample per (route, backend).
template <class Field>
void backend_family(std::string& out, const StatsSnapshot& s, std::string_view name,
                    std::string_view type, std::string_view help, Field field) {
  family(out, name, type, help);
  for (const RouteSnapshot& r : s.routes) {
    for (const BackendSnapshot& b : r.backends) {
      // A literal line's series keep the labels they always had; the addresses of a
      // DNS name share its `backend` label and differ by `address`.
      if (b.address.empty()) {
        sample(out, name, {{"route", r.name}, {"backend", b.name}}, field(b));
      } else {
        sample(out, name, {{"route", r.name}, {"backend", b.name}, {"address", b.address}},
               field(b));
      }
    }
  }
}

// One sample of a (route, backend) family that also has a `result` label.
void backend_result_sample(std::string& out, std::string_view name, const RouteSnapshot& r,
                           const BackendSnapshot& b, std::string_view result, uint64_t value) {
  if (b.address.empty()) {
    sample(out, name, {{"route", r.name}, {"backend", b.name}, {"result", result}}, value);
  } else {
    sample(out, name,
           {{"route", r.name}, {"backend", b.name}, {"address", b.address}, {"result", result}},
           value);
  }
}

}  // namespace

std::string render_prometheus(const StatsSnapshot& s) {
  std::string out;
  out.reserve(2048 + s.routes.size() * 2048);

  family(out, "arus_build_info", "gauge", "Build information; the value is always 1.");
  sample(out, "arus_build_info", {{"version", s.version}}, uint64_t{1});
  family(out, "arus_start_time_seconds", "gauge", "Unix time the process started, in seconds.");
  sample(out, "arus_start_time_seconds", {}, s.start_time_seconds);
  family(out, "arus_config_generation", "gauge",
         "Configuration generation: 1 after start-up, +1 per applied reload.");
  sample(out, "arus_config_generation", {}, s.generation);
  family(out, "arus_reloads_total", "counter", "Configuration reload attempts by result.");
  sample(out, "arus_reloads_total", {{"result", "ok"}}, s.reloads_ok);
  sample(out, "arus_reloads_total", {{"result", "error"}}, s.reloads_error);
  family(out, "arus_log_lines_dropped_total", "counter",
         "Log lines dropped because stderr did not take them in time, or failed.");
  sample(out, "arus_log_lines_dropped_total", {}, s.log_lines_dropped);

  family(out, "arus_worker_connections_active", "gauge",
         "Client connections open, per worker thread.");
  for (size_t w = 0; w < s.worker_connections_active.size(); ++w) {
    std::string index = std::to_string(w);
    sample(out, "arus_worker_connections_active", {{"worker", index}},
           s.worker_connections_active[w]);
  }

  route_family(out, s, "arus_client_connections_total", "counter",
               "Client connections accepted per route, refused ones included.",
               [](const RouteSnapshot& r) { return r.connections_total; });
  route_family(out, s, "arus_connections_active", "gauge", "Client connections open per route.",
               [](const RouteSnapshot& r) { return r.connections_active; });

  family(out, "arus_bytes_total", "counter",
         "Bytes read per route and direction, counted before any filter.");
  for (const RouteSnapshot& r : s.routes) {
    sample(out, "arus_bytes_total", {{"route", r.name}, {"direction", "client_to_backend"}},
           r.bytes_client_to_backend);
    sample(out, "arus_bytes_total", {{"route", r.name}, {"direction", "backend_to_client"}},
           r.bytes_backend_to_client);
  }

  family(out, "arus_refused_total", "counter",
         "Client connections accepted and closed at once, per route and reason.");
  for (const RouteSnapshot& r : s.routes) {
    sample(out, "arus_refused_total", {{"route", r.name}, {"reason", "route_limit"}},
           r.refused_route_limit);
    sample(out, "arus_refused_total", {{"route", r.name}, {"reason", "global_limit"}},
           r.refused_global_limit);
    sample(out, "arus_refused_total", {{"route", r.name}, {"reason", "fds"}}, r.refused_fds);
    sample(out, "arus_refused_total", {{"route", r.name}, {"reason", "backend_limit"}},
           r.refused_backend_limit);
    sample(out, "arus_refused_total", {{"route", r.name}, {"reason", "source_limit"}},
           r.refused_source_limit);
    sample(out, "arus_refused_total", {{"route", r.name}, {"reason", "rate_limit"}},
           r.refused_rate_limit);
    sample(out, "arus_refused_total", {{"route", r.name}, {"reason", "source_rate_limit"}},
           r.refused_source_rate_limit);
  }

  route_family(out, s, "arus_queue_length", "gauge",
               "Clients waiting for a backend slot per route.",
               [](const RouteSnapshot& r) { return r.queue_length; });
  route_family(out, s, "arus_queue_timeouts_total", "counter",
               "Clients closed after waiting queue_timeout_ms for a backend slot.",
               [](const RouteSnapshot& r) { return r.queue_timeouts; });

  family(out, "arus_timeouts_total", "counter",
         "Timeouts per route and kind: connect attempts, idle connections.");
  for (const RouteSnapshot& r : s.routes) {
    sample(out, "arus_timeouts_total", {{"route", r.name}, {"kind", "connect"}},
           r.timeouts_connect);
    sample(out, "arus_timeouts_total", {{"route", r.name}, {"kind", "idle"}}, r.timeouts_idle);
  }

  route_family(out, s, "arus_filter_closed_total", "counter",
               "Connections closed at the request of the route's filter.",
               [](const RouteSnapshot& r) { return r.filter_closed; });
  route_family(out, s, "arus_proxy_header_errors_total", "counter",
               "Client connections closed for a missing, malformed or too slow PROXY header.",
               [](const RouteSnapshot& r) { return r.proxy_header_errors; });

  backend_family(out, s, "arus_connections_total", "counter", "Connections opened to each backend.",
                 [](const BackendSnapshot& b) { return b.connections_total; });
  backend_family(out, s, "arus_connect_errors_total", "counter",
                 "Connect attempts to each backend that failed or timed out.",
                 [](const BackendSnapshot& b) { return b.connect_errors_total; });
  backend_family(out, s, "arus_backend_connections_active", "gauge",
                 "Connections open to each backend.",
                 [](const BackendSnapshot& b) { return b.connections_active; });
  backend_family(out, s, "arus_backend_max_connections", "gauge",
                 "Each backend's max_connections cap; 0 = none.",
                 [](const BackendSnapshot& b) { return b.max_connections; });
  backend_family(out, s, "arus_backend_up", "gauge",
                 "1 while the backend is considered up, 0 while it is marked down.",
                 [](const BackendSnapshot& b) { return uint64_t{b.up ? 1u : 0u}; });
  backend_family(out, s, "arus_backend_state_changes_total", "counter",
                 "Times each backend went down or came back up (checks or failed connects).",
                 [](const BackendSnapshot& b) { return b.state_changes; });
  family(out, "arus_health_checks_total", "counter",
         "Active health checks of each backend by result.");
  for (const RouteSnapshot& r : s.routes) {
    for (const BackendSnapshot& b : r.backends) {
      backend_result_sample(out, "arus_health_checks_total", r, b, "ok", b.checks_ok);
      backend_result_sample(out, "arus_health_checks_total", r, b, "fail", b.checks_failed);
    }
  }

  family(out, "arus_dns_resolutions_total", "counter",
         "Refreshes of backends written as DNS names, per route, backend and result.");
  for (const DnsResolutionSnapshot& d : s.dns_resolutions) {
    sample(out, "arus_dns_resolutions_total",
           {{"route", d.route}, {"backend", d.backend}, {"result", "ok"}}, d.ok);
    sample(out, "arus_dns_resolutions_total",
           {{"route", d.route}, {"backend", d.backend}, {"result", "error"}}, d.error);
  }
  return out;
}

}  // namespace arus
