// Parsing and route-level validation of the health_check* keys; reasons only, the loader
// adds file, line, section and key.
#include "arus/config/health_check_config.hpp"

#include <array>

#include "arus/config/value_parsers.hpp"

namespace arus {
namespace {

constexpr std::array<HealthCheckKind, 5> kKinds = {
    HealthCheckKind::kOff, HealthCheckKind::kConnect, HealthCheckKind::kSendExpect,
    HealthCheckKind::kRedis, HealthCheckKind::kHttp};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A path goes on the request line as it is: no spaces or control bytes, which would
// break the line (and could smuggle a header into the check request).
Result<void> check_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return Error{"'" + std::string(path) + "' must start with '/'"};
  for (unsigned char c : path) {
    if (c <= 0x20 || c == 0x7f) return Error{"must not contain spaces or control characters"};
  }
  return {};
}

template <class T>
Result<void> set_count(std::string_view value, uint64_t min, uint64_t max, T& out) {
  Result<uint64_t> parsed = parse_uint(value, min, max);
  if (!parsed) return Error{parsed.error().message};
  out = static_cast<T>(*parsed);
  return {};
}

}  // namespace

Result<HealthCheckKind> parse_health_check_kind(std::string_view text) {
  for (HealthCheckKind kind : kKinds) {
    if (text == health_check_kind_name(kind)) return kind;
  }
  return Error{"unknown check '" + std::string(text) +
               "' (expected off, connect, send_expect, redis or http)"};
}

std::string_view health_check_kind_name(HealthCheckKind kind) {
  switch (kind) {
    case HealthCheckKind::kOff: return "off";
    case HealthCheckKind::kConnect: return "connect";
    case HealthCheckKind::kSendExpect: return "send_expect";
    case HealthCheckKind::kRedis: return "redis";
    case HealthCheckKind::kHttp: return "http";
  }
  return "?";
}

Result<std::string> parse_c_escapes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (i + 1 == text.size()) return Error{"ends with a lone '\\' (write \\\\ for a backslash)"};
    char c = text[++i];
    switch (c) {
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case '\\': out += '\\'; break;
      case 'x': {
        int high = i + 1 < text.size() ? hex_digit(text[i + 1]) : -1;
        int low = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
        if (high < 0 || low < 0) return Error{"\\x must be followed by two hex digits"};
        out += static_cast<char>(high * 16 + low);
        i += 2;
        break;
      }
      default:
        return Error{std::string("unknown escape '\\") + c + "' (expected \\r \\n \\t \\\\ or \\xHH)"};
    }
  }
  return out;
}

bool is_health_check_key(std::string_view key) {
  return key == "health_check" || key.substr(0, 13) == "health_check_";
}

Result<void> set_health_check_key(HealthCheckConfig& check, std::string_view key,
                                  std::string_view value) {
  if (key == "health_check") {
    Result<HealthCheckKind> kind = parse_health_check_kind(value);
    if (!kind) return Error{kind.error().message};
    check.kind = *kind;
    return {};
  }
  if (key == "health_check_send" || key == "health_check_expect") {
    Result<std::string> bytes = parse_c_escapes(value);
    if (!bytes) return Error{bytes.error().message};
    (key == "health_check_send" ? check.send : check.expect) = std::move(*bytes);
    return {};
  }
  if (key == "health_check_path") {
    if (Result<void> ok = check_path(value); !ok) return ok;
    check.path = std::string(value);
    return {};
  }
  if (key == "health_check_interval_ms") {
    return set_count(value, kMinHealthCheckIntervalMs, kMaxHealthCheckIntervalMs,
                     check.interval_ms);
  }
  if (key == "health_check_timeout_ms") {
    return set_count(value, 1, kMaxHealthCheckIntervalMs, check.timeout_ms);
  }
  if (key == "health_check_rise") return set_count(value, 1, kMaxHealthCheckCount, check.rise);
  if (key == "health_check_fall") return set_count(value, 1, kMaxHealthCheckCount, check.fall);
  return Error{"unknown key"};
}

std::optional<HealthCheckProblem> validate_health_check(const HealthCheckConfig& check,
                                                        const KeyLines& written) {
  const bool send_expect = check.kind == HealthCheckKind::kSendExpect;
  for (std::string_view key : {"health_check_send", "health_check_expect"}) {
    if (!send_expect && written.count(key) != 0) {
      return HealthCheckProblem{key, "only with health_check = send_expect"};
    }
  }
  if (send_expect) {
    if (check.send.empty()) {
      return HealthCheckProblem{"health_check",
                                "send_expect needs a non-empty health_check_send"};
    }
    if (check.expect.empty()) {
      return HealthCheckProblem{"health_check",
                                "send_expect needs a non-empty health_check_expect"};
    }
  }
  if (check.timeout_ms >= check.interval_ms) {
    // Name the key the operator most likely just changed: the timeout when written.
    std::string_view key =
        written.count("health_check_timeout_ms") != 0 ? "health_check_timeout_ms"
                                                      : "health_check_interval_ms";
    return HealthCheckProblem{key, "timeout " + std::to_string(check.timeout_ms) +
                                       " ms must be below the interval (" +
                                       std::to_string(check.interval_ms) + " ms)"};
  }
  return std::nullopt;
}

}  // namespace arus
