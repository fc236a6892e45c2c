// Routing of the admin listener: paths, methods, ids and the weight body.
#include "arus/app/admin_endpoint.hpp"

#include <charconv>
#include <vector>

#include "arus/stats/text_escape.hpp"

namespace arus {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded; false for a malformed escape.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex_digit(in[i + 1]);
    int lo = hex_digit(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty()) {
    size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

// The query's dry_run parameter: "1", "true" or "on".
bool query_dry_run(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return false;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair == "dry_run=1" || pair == "dry_run=true" || pair == "dry_run=on" ||
        pair == "dry_run") {
      return true;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

AdminRequest refuse(int status, std::string error, std::string allow = {}) {
  AdminRequest r;
  r.status = status;
  r.error = std::move(error);
  r.allow = std::move(allow);
  return r;
}

}  // namespace

bool parse_weight_body(std::string_view body, uint32_t& weight) {
  std::string_view s = trim(body);
  if (s.size() < 2 || s.front() != '{' || s.back() != '}') return false;
  s = trim(s.substr(1, s.size() - 2));
  constexpr std::string_view kKey = "\"weight\"";
  if (s.substr(0, kKey.size()) != kKey) return false;
  s = trim(s.substr(kKey.size()));
  if (s.empty() || s.front() != ':') return false;
  s = trim(s.substr(1));
  if (s.empty() || s.size() > 3) return false;
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value > 256) return false;
  weight = value;
  return true;
}

std::string admin_error_json(std::string_view message) {
  std::string out = "{\"result\": \"error\", \"error\": ";
  append_json_string(out, message);
  out += '}';
  return out;
}

AdminRequest parse_admin_request(const HttpRequest& request) {
  const std::vector<std::string_view> parts = split_path(request.path);
  const bool post = request.method == "POST";
  const bool get = request.method == "GET" || request.method == "HEAD";
  AdminRequest r;
  AdminCommand& c = r.command;
  if (parts.size() == 1 && parts[0] == "reload") {
    if (!post) return refuse(405, "method not allowed", "POST");
    c.kind = AdminCommand::Kind::kReload;
    c.dry_run = query_dry_run(request.target);
    if (!request.body.empty() && !c.dry_run) {
      return refuse(400, "a configuration in the body is only for ?dry_run=1");
    }
    c.has_text = c.dry_run && !request.body.empty();
    c.text = std::string(request.body);
    return r;
  }
  if (parts.size() == 1 && parts[0] == "connections") {
    if (!get) return refuse(405, "method not allowed", "GET, HEAD");
    c.kind = AdminCommand::Kind::kConnections;
    return r;
  }
  if (parts.size() == 3 && parts[0] == "connections" && parts[2] == "close") {
    if (!post) return refuse(405, "method not allowed", "POST");
    std::string_view id = parts[1];
    auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), c.connection_id);
    if (id.empty() || ec != std::errc() || end != id.data() + id.size()) {
      return refuse(400, "connection id must be a number");
    }
    c.kind = AdminCommand::Kind::kCloseConnection;
    return r;
  }
  if (parts.size() == 5 && parts[0] == "routes" && parts[2] == "backends") {
    using Action = AdminCommand::BackendAction;
    std::string_view action = parts[4];
    if (action == "drain") {
      c.action = Action::kDrain;
    } else if (action == "disable") {
      c.action = Action::kDisable;
    } else if (action == "enable") {
      c.action = Action::kEnable;
    } else if (action == "weight") {
      c.action = Action::kWeight;
    } else {
      return refuse(404, "not found");
    }
    if (!post) return refuse(405, "method not allowed", "POST");
    if (!percent_decode(parts[1], c.route) || !percent_decode(parts[3], c.backend)) {
      return refuse(400, "malformed percent-encoding in the path");
    }
    if (c.action == Action::kWeight && !parse_weight_body(request.body, c.weight)) {
      return refuse(400, "the body must be {\"weight\": N} with N in 0-256");
    }
    c.kind = AdminCommand::Kind::kBackend;
    return r;
  }
  return refuse(404, "not found");
}

}  // namespace arus
