// JSON writer for /stats: hand-rolled, since the shape is fixed and small.
#include "arus/stats/json_exporter.hpp"

#include <cinttypes>
#include <cstdio>
#include <string_view>

#include "arus/stats/text_escape.hpp"

namespace arus {
namespace {

// Writes `"key":` preceded by a comma unless it opens an object.
void key(std::string& out, std::string_view name) {
  char last = out.empty() ? '{' : out.back();
  if (last != '{' && last != '[') out += ',';
  append_json_string(out, name);
  out += ':';
}

void field(std::string& out, std::string_view name, uint64_t value) {
  key(out, name);
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRIu64, value);
  out += buf;
}

void field(std::string& out, std::string_view name, int64_t value) {
  key(out, name);
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRId64, value);
  out += buf;
}

void field(std::string& out, std::string_view name, double value) {
  key(out, name);
  char buf[48];
  snprintf(buf, sizeof buf, "%.3f", value);
  out += buf;
}

void field(std::string& out, std::string_view name, bool value) {
  key(out, name);
  out += value ? "true" : "false";
}

void field(std::string& out, std::string_view name, std::string_view value) {
  key(out, name);
  append_json_string(out, value);
}

// Array elements are separated here; key() handles the members inside.
void open_element(std::string& out) {
  if (out.back() != '[') out += ',';
  out += '{';
}

void render_backend(std::string& out, const BackendSnapshot& b) {
  open_element(out);
  // "backend" is the metrics label (HOST:PORT as written); "address" the address itself:
  // for a line written with an IP literal the two are that line.
  field(out, "backend", std::string_view(b.name));
  field(out, "address", std::string_view(b.address.empty() ? b.name : b.address));
  field(out, "up", b.up);
  field(out, "connections_active", b.connections_active);
  field(out, "connections_total", b.connections_total);
  field(out, "connect_errors_total", b.connect_errors_total);
  key(out, "health");
  out += '{';
  field(out, "state", std::string_view(b.up ? "up" : "down"));
  if (b.last_error.empty()) {
    key(out, "last_error");
    out += "null";
  } else {
    field(out, "last_error", std::string_view(b.last_error));
  }
  field(out, "checks_ok", b.checks_ok);
  field(out, "checks_failed", b.checks_failed);
  field(out, "state_changes", b.state_changes);
  out += '}';
  field(out, "admin_state", std::string_view(b.admin_state));
  field(out, "weight", static_cast<uint64_t>(b.weight));
  field(out, "max_connections", b.max_connections);
  out += '}';
}

void render_route(std::string& out, const RouteSnapshot& r) {
  open_element(out);
  field(out, "name", std::string_view(r.name));
  field(out, "listen", std::string_view(r.listen));
  field(out, "retired", r.retired);
  field(out, "connections_active", r.connections_active);
  field(out, "connections_total", r.connections_total);
  key(out, "bytes");
  out += '{';
  field(out, "client_to_backend", r.bytes_client_to_backend);
  field(out, "backend_to_client", r.bytes_backend_to_client);
  out += '}';
  key(out, "refused");
  out += '{';
  field(out, "route_limit", r.refused_route_limit);
  field(out, "global_limit", r.refused_global_limit);
  field(out, "fds", r.refused_fds);
  field(out, "backend_limit", r.refused_backend_limit);
  field(out, "source_limit", r.refused_source_limit);
  field(out, "rate_limit", r.refused_rate_limit);
  field(out, "source_rate_limit", r.refused_source_rate_limit);
  out += '}';
  key(out, "timeouts");
  out += '{';
  field(out, "connect", r.timeouts_connect);
  field(out, "idle", r.timeouts_idle);
  out += '}';
  field(out, "filter_closed", r.filter_closed);
  field(out, "proxy_header_errors", r.proxy_header_errors);
  field(out, "queue_length", r.queue_length);
  field(out, "queue_timeouts", r.queue_timeouts);
  key(out, "backends");
  out += '[';
  for (const BackendSnapshot& b : r.backends) render_backend(out, b);
  out += "]}";
}

}  // namespace

std::string render_json(const StatsSnapshot& s) {
  std::string out;
  out.reserve(512 + s.routes.size() * 640);
  out += '{';
  field(out, "version", std::string_view(s.version));
  field(out, "start_time_seconds", s.start_time_seconds);
  field(out, "generation", s.generation);
  key(out, "reloads");
  out += '{';
  field(out, "ok", s.reloads_ok);
  field(out, "error", s.reloads_error);
  out += '}';
  field(out, "log_lines_dropped", s.log_lines_dropped);
  key(out, "workers");
  out += '[';
  for (int64_t active : s.worker_connections_active) {
    open_element(out);
    field(out, "connections_active", active);
    out += '}';
  }
  out += ']';
  key(out, "routes");
  out += '[';
  for (const RouteSnapshot& r : s.routes) render_route(out, r);
  out += "]}\n";
  return out;
}

}  // namespace arus
