// HealthCheckConfig: a route's active health check settings (the health_check* keys),
// their parsing and the checks that need the whole route. Plain values, immutable once
// loaded; the parsers are stateless and safe from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "arus/core/result.hpp"

namespace arus {

// As in config.hpp (which includes this file, so this one cannot include it): the first
// line of each key written in a section. Redeclaring the same alias is allowed.
using KeyLines = std::map<std::string, int, std::less<>>;

enum class HealthCheckKind { kOff, kConnect, kSendExpect, kRedis, kHttp };

struct HealthCheckConfig {
  HealthCheckKind kind = HealthCheckKind::kOff;
  std::string send;    // send_expect: bytes to send, escapes already decoded
  std::string expect;  // send_expect: the reply must start with these bytes (decoded)
  std::string path = "/";  // http: the path of the GET
  uint64_t interval_ms = 2000;
  uint64_t timeout_ms = 1000;  // connect + reply, per check
  uint32_t rise = 2;           // consecutive passing checks to mark a down backend up
  uint32_t fall = 3;           // consecutive failing checks to mark an up backend down

  bool enabled() const noexcept { return kind != HealthCheckKind::kOff; }
  bool operator==(const HealthCheckConfig&) const = default;
};

inline constexpr uint64_t kMinHealthCheckIntervalMs = 100;
inline constexpr uint64_t kMaxHealthCheckIntervalMs = 3600000;  // 1 h
inline constexpr uint32_t kMaxHealthCheckCount = 100;           // rise and fall

// off | connect | send_expect | redis | http.
Result<HealthCheckKind> parse_health_check_kind(std::string_view text);
std::string_view health_check_kind_name(HealthCheckKind kind);

// Decodes C escapes: \r \n \t \\ and \xHH (exactly two hex digits). Any other backslash
// sequence, or a backslash at the end, is an error naming it. Empty text decodes to "".
Result<std::string> parse_c_escapes(std::string_view text);

// True for the route keys this file owns (health_check, health_check_*).
bool is_health_check_key(std::string_view key);

// Sets one of those keys from its value (value errors only: "out of range", ...).
Result<void> set_health_check_key(HealthCheckConfig& check, std::string_view key,
                                  std::string_view value);

// A rule that needs the whole route broken, and the key whose line to name.
struct HealthCheckProblem {
  std::string_view key;
  std::string reason;
};

// Checks that need every key of the route: send/expect only with send_expect and both
// required there, the timeout below the interval. `written`: the route's key lines (a
// key absent from it was left at its default).
std::optional<HealthCheckProblem> validate_health_check(const HealthCheckConfig& check,
                                                        const KeyLines& written);

}  // namespace arus
