// render_prometheus: exact output for a tiny table, label escaping, and a structural
// check of the text format 0.0.4 (HELP/TYPE per family, grouped samples, sample syntax).
#include "arus/stats/metrics_exporter.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "sample_snapshot.hpp"

namespace arus {
namespace {

StatsSnapshot tiny_snapshot() { return sample_snapshot(1700000000.5, /*backend_up=*/false); }

TEST(MetricsExporter, TinyTableExactText) {
  const char* expected =
      "# HELP arus_build_info Build information; the value is always 1.\n"
      "# TYPE arus_build_info gauge\n"
      "arus_build_info{version=\"0.1.0\"} 1\n"
      "# HELP arus_start_time_seconds Unix time the process started, in seconds.\n"
      "# TYPE arus_start_time_seconds gauge\n"
      "arus_start_time_seconds 1700000000.500\n"
      "# HELP arus_config_generation Configuration generation: 1 after start-up, +1 per "
      "applied reload.\n"
      "# TYPE arus_config_generation gauge\n"
      "arus_config_generation 3\n"
      "# HELP arus_reloads_total Configuration reload attempts by result.\n"
      "# TYPE arus_reloads_total counter\n"
      "arus_reloads_total{result=\"ok\"} 2\n"
      "arus_reloads_total{result=\"error\"} 1\n"
      "# HELP arus_log_lines_dropped_total Log lines dropped because stderr did not take them "
      "in time, or failed.\n"
      "# TYPE arus_log_lines_dropped_total counter\n"
      "arus_log_lines_dropped_total 9\n"
      "# HELP arus_worker_connections_active Client connections open, per worker thread.\n"
      "# TYPE arus_worker_connections_active gauge\n"
      "arus_worker_connections_active{worker=\"0\"} 1\n"
      "arus_worker_connections_active{worker=\"1\"} 0\n"
      "# HELP arus_client_connections_total Client connections accepted per route, refused "
      "ones included.\n"
      "# TYPE arus_client_connections_total counter\n"
      "arus_client_connections_total{route=\"web\"} 10\n"
      "# HELP arus_connections_active Client connections open per route.\n"
      "# TYPE arus_connections_active gauge\n"
      "arus_connections_active{route=\"web\"} 1\n"
      "# HELP arus_bytes_total Bytes read per route and direction, counted before any "
      "filter.\n"
      "# TYPE arus_bytes_total counter\n"
      "arus_bytes_total{route=\"web\",direction=\"client_to_backend\"} 100\n"
      "arus_bytes_total{route=\"web\",direction=\"backend_to_client\"} 200\n"
      "# HELP arus_refused_total Client connections accepted and closed at once, per route "
      "and reason.\n"
      "# TYPE arus_refused_total counter\n"
      "arus_refused_total{route=\"web\",reason=\"route_limit\"} 1\n"
      "arus_refused_total{route=\"web\",reason=\"global_limit\"} 2\n"
      "arus_refused_total{route=\"web\",reason=\"fds\"} 3\n"
      "arus_refused_total{route=\"web\",reason=\"backend_limit\"} 0\n"
      "arus_refused_total{route=\"web\",reason=\"source_limit\"} 0\n"
      "arus_refused_total{route=\"web\",reason=\"rate_limit\"} 0\n"
      "arus_refused_total{route=\"web\",reason=\"source_rate_limit\"} 0\n"
      "# HELP arus_queue_length Clients waiting for a backend slot per route.\n"
      "# TYPE arus_queue_length gauge\n"
      "arus_queue_length{route=\"web\"} 0\n"
      "# HELP arus_queue_timeouts_total Clients closed after waiting queue_timeout_ms for a "
      "backend slot.\n"
      "# TYPE arus_queue_timeouts_total counter\n"
      "arus_queue_timeouts_total{route=\"web\"} 0\n"
      "# HELP arus_timeouts_total Timeouts per route and kind: connect attempts, idle "
      "connections.\n"
      "# TYPE arus_timeouts_total counter\n"
      "arus_timeouts_total{route=\"web\",kind=\"connect\"} 4\n"
      "arus_timeouts_total{route=\"web\",kind=\"idle\"} 5\n"
      "# HELP arus_filter_closed_total Connections closed at the request of the route's "
      "filter.\n"
      "# TYPE arus_filter_closed_total counter\n"
      "arus_filter_closed_total{route=\"web\"} 6\n"
      "# HELP arus_proxy_header_errors_total Client connections closed for a missing, "
      "malformed or too slow PROXY header.\n"
      "# TYPE arus_proxy_header_errors_total counter\n"
      "arus_proxy_header_errors_total{route=\"web\"} 11\n"
      "# HELP arus_connections_total Connections opened to each backend.\n"
      "# TYPE arus_connections_total counter\n"
      "arus_connections_total{route=\"web\",backend=\"127.0.0.1:9001\"} 7\n"
      "# HELP arus_connect_errors_total Connect attempts to each backend that failed or timed "
      "out.\n"
      "# TYPE arus_connect_errors_total counter\n"
      "arus_connect_errors_total{route=\"web\",backend=\"127.0.0.1:9001\"} 8\n"
      "# HELP arus_backend_connections_active Connections open to each backend.\n"
      "# TYPE arus_backend_connections_active gauge\n"
      "arus_backend_connections_active{route=\"web\",backend=\"127.0.0.1:9001\"} 1\n"
      "# HELP arus_backend_max_connections Each backend's max_connections cap; 0 = none.\n"
      "# TYPE arus_backend_max_connections gauge\n"
      "arus_backend_max_connections{route=\"web\",backend=\"127.0.0.1:9001\"} 0\n"
      "# HELP arus_backend_up 1 while the backend is considered up, 0 while it is marked "
      "down.\n"
      "# TYPE arus_backend_up gauge\n"
      "arus_backend_up{route=\"web\",backend=\"127.0.0.1:9001\"} 0\n"
      "# HELP arus_backend_state_changes_total Times each backend went down or came back up "
      "(checks or failed connects).\n"
      "# TYPE arus_backend_state_changes_total counter\n"
      "arus_backend_state_changes_total{route=\"web\",backend=\"127.0.0.1:9001\"} 13\n"
      "# HELP arus_health_checks_total Active health checks of each backend by result.\n"
      "# TYPE arus_health_checks_total counter\n"
      "arus_health_checks_total{route=\"web\",backend=\"127.0.0.1:9001\",result=\"ok\"} 11\n"
      "arus_health_checks_total{route=\"web\",backend=\"127.0.0.1:9001\",result=\"fail\"} "
      "12\n"
      "# HELP arus_dns_resolutions_total Refreshes of backends written as DNS names, per "
      "route, backend and result.\n"
      "# TYPE arus_dns_resolutions_total counter\n";
  EXPECT_EQ(render_prometheus(tiny_snapshot()), expected);
}

TEST(MetricsExporter, LabelValuesAreEscaped) {
  StatsSnapshot s = tiny_snapshot();
  s.routes[0].name = "a\"b\\c\nd";
  s.routes[0].backends[0].name = "[::1]:80";
  std::string text = render_prometheus(s);
  EXPECT_NE(text.find("arus_connections_active{route=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("{route=\"a\\\"b\\\\c\\nd\",backend=\"[::1]:80\"} 7\n"), std::string::npos);
}

// A structural reader of the text format: every line is HELP, TYPE or a sample; a
// family's HELP and TYPE come first and its samples are contiguous; label values use
// only the three escapes. (Hand-written: std::regex trips -Wmaybe-uninitialized in
// libstdc++ 12 sanitizer builds.)
struct Exposition {
  std::map<std::string, std::string> types;
  std::set<std::string> helps;
  std::vector<std::string> errors;
  std::map<std::string, double> values;  // "name{labels}" -> value
};

class LineReader {
 public:
  explicit LineReader(std::string_view line) : rest_(line) {}
  bool literal(std::string_view word) {
    if (rest_.substr(0, word.size()) != word) return false;
    rest_.remove_prefix(word.size());
    return true;
  }
  // [a-zA-Z_:][a-zA-Z0-9_:]* (colons only when `colons`).
  bool name(std::string* out, bool colons) {
    size_t n = 0;
    while (n < rest_.size()) {
      char c = rest_[n];
      bool alpha =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colons && c == ':');
      if (!alpha && !(n > 0 && c >= '0' && c <= '9')) break;
      ++n;
    }
    if (n == 0) return false;
    *out = std::string(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return true;
  }
  // A double-quoted label value with only \\, \" and \n escapes.
  bool quoted() {
    if (!literal("\"")) return false;
    while (!rest_.empty()) {
      char c = rest_.front();
      rest_.remove_prefix(1);
      if (c == '"') return true;
      if (c == '\n') return false;
      if (c == '\\') {
        if (rest_.empty() ||
            std::string_view("\\\"n").find(rest_.front()) == std::string_view::npos) {
          return false;
        }
        rest_.remove_prefix(1);
      }
    }
    return false;
  }
  bool number(double* out) {
    std::string text(rest_);
    size_t i = text[0] == '-' ? 1 : 0;
    size_t digits = i;
    while (digits < text.size() && isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    if (digits == i) return false;
    if (digits < text.size() && text[digits] == '.') {
      size_t frac = digits + 1;
      while (frac < text.size() && isdigit(static_cast<unsigned char>(text[frac]))) ++frac;
      if (frac == digits + 1) return false;
      digits = frac;
    }
    if (digits != text.size()) return false;
    *out = std::stod(text);
    rest_ = {};
    return true;
  }
  std::string_view rest() const { return rest_; }
  bool done() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

// "name{l="v",...} value" -> family name, series key and value.
bool read_sample(std::string_view line, std::string* family, std::string* series, double* value) {
  LineReader r(line);
  if (!r.name(family, true)) return false;
  std::string_view labels_start = r.rest();
  if (r.literal("{")) {
    do {
      std::string label;
      if (!r.name(&label, false) || !r.literal("=") || !r.quoted()) return false;
    } while (r.literal(","));
    if (!r.literal("}")) return false;
  }
  *series = *family + std::string(labels_start.substr(0, labels_start.size() - r.rest().size()));
  return r.literal(" ") && r.number(value);
}

Exposition read_exposition(const std::string& text) {
  Exposition out;
  std::set<std::string> closed;  // families whose group has ended
  std::string current;
  std::istringstream lines(text);
  std::string line;
  if (text.empty() || text.back() != '\n') out.errors.push_back("no final newline");
  while (std::getline(lines, line)) {
    std::string family;
    LineReader r(line);
    if (r.literal("# HELP ")) {
      if (!r.name(&family, true) || !r.literal(" ")) out.errors.push_back("bad HELP: " + line);
      if (!out.helps.insert(family).second) out.errors.push_back("second HELP: " + line);
    } else if (r.literal("# TYPE ")) {
      std::string type;
      if (!r.name(&family, true) || !r.literal(" ") || !r.name(&type, false) || !r.done() ||
          (type != "counter" && type != "gauge")) {
        out.errors.push_back("bad TYPE: " + line);
      }
      if (out.helps.count(family) == 0) out.errors.push_back("TYPE before HELP: " + line);
      if (!out.types.emplace(family, type).second) out.errors.push_back("second TYPE: " + line);
    } else {
      std::string series;
      double value = 0;
      if (!read_sample(line, &family, &series, &value)) {
        out.errors.push_back("malformed: " + line);
        continue;
      }
      if (out.types.count(family) == 0) out.errors.push_back("sample before TYPE: " + line);
      if (!out.values.emplace(series, value).second) out.errors.push_back("duplicate: " + line);
    }
    if (family != current) {
      if (closed.count(family) != 0) out.errors.push_back("family not contiguous: " + line);
      if (!current.empty()) closed.insert(current);
      current = family;
    }
  }
  return out;
}

TEST(MetricsExporter, TheStructuralReaderRejectsBrokenLines) {
  for (const char* broken :
       {"arus_x{route=\"a\nb\"} 1\n", "arus_x{route=\"a\\qb\"} 1\n", "arus_x{route=a} 1\n",
        "arus_x 1 2\n", "arus_x{route=\"a\"}1\n", "# TYPE arus_x summary\n"}) {
    std::string text = std::string("# HELP arus_x h\n# TYPE arus_x gauge\n") + broken;
    EXPECT_FALSE(read_exposition(text).errors.empty()) << broken;
  }
  EXPECT_TRUE(
      read_exposition("# HELP a h\n# TYPE a gauge\na{b=\"\\\\\\\"\\n\"} -1.5\n").errors.empty());
}

TEST(MetricsExporter, EveryFamilyHasHelpAndTypeAndEveryLineIsWellFormed) {
  StatsSnapshot s = tiny_snapshot();
  RouteSnapshot second = s.routes[0];
  second.name = "quote\" back\\slash new\nline";
  second.backends.push_back(second.backends[0]);
  second.backends[1].name = "db.example:5432";
  second.backends[1].address = "10.0.0.7:5432";  // one address of a DNS name
  s.routes.push_back(second);
  s.dns_resolutions.push_back(DnsResolutionSnapshot{second.name, "db.example:5432", 4, 1});
  Exposition e = read_exposition(render_prometheus(s));
  for (const auto& error : e.errors) ADD_FAILURE() << error;

  const std::map<std::string, std::string> families = {
      {"arus_build_info", "gauge"},
      {"arus_start_time_seconds", "gauge"},
      {"arus_config_generation", "gauge"},
      {"arus_reloads_total", "counter"},
      {"arus_log_lines_dropped_total", "counter"},
      {"arus_worker_connections_active", "gauge"},
      {"arus_client_connections_total", "counter"},
      {"arus_connections_active", "gauge"},
      {"arus_bytes_total", "counter"},
      {"arus_refused_total", "counter"},
      {"arus_queue_length", "gauge"},
      {"arus_queue_timeouts_total", "counter"},
      {"arus_timeouts_total", "counter"},
      {"arus_filter_closed_total", "counter"},
      {"arus_proxy_header_errors_total", "counter"},
      {"arus_connections_total", "counter"},
      {"arus_connect_errors_total", "counter"},
      {"arus_backend_connections_active", "gauge"},
      {"arus_backend_max_connections", "gauge"},
      {"arus_backend_up", "gauge"},
      {"arus_backend_state_changes_total", "counter"},
      {"arus_health_checks_total", "counter"},
      {"arus_dns_resolutions_total", "counter"},
  };
  EXPECT_EQ(e.types, families);
  EXPECT_EQ(e.helps.size(), families.size());
  EXPECT_EQ(e.values.at("arus_connections_total{route=\"quote\\\" back\\\\slash new\\nline\","
                        "backend=\"db.example:5432\",address=\"10.0.0.7:5432\"}"),
            7);
  EXPECT_EQ(e.values.at("arus_connections_total{route=\"web\",backend=\"127.0.0.1:9001\"}"), 7);
  EXPECT_EQ(e.values.at("arus_dns_resolutions_total{route=\"quote\\\" back\\\\slash "
                        "new\\nline\",backend=\"db.example:5432\",result=\"error\"}"),
            1);
  EXPECT_EQ(e.values.at("arus_config_generation"), 3);
}

TEST(MetricsExporter, EmptyTableStillDescribesEveryFamily) {
  StatsSnapshot s;
  Exposition e = read_exposition(render_prometheus(s));
  for (const auto& error : e.errors) ADD_FAILURE() << error;
  EXPECT_EQ(e.types.size(), 23u);
  EXPECT_EQ(e.values.count("arus_reloads_total{result=\"error\"}"), 1u);
}

TEST(MetricsExporter, InvalidUtf8InANameBecomesReplacementCharacter) {
  StatsSnapshot s = tiny_snapshot();
  s.routes[0].name = "bad\xff";
  std::string text = render_prometheus(s);
  EXPECT_NE(text.find("{route=\"bad\xEF\xBF\xBD\"}"), std::string::npos);
}

}  // namespace
}  // namespace arus
