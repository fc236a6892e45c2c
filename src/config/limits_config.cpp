// Parsing of the route keys of LimitsConfig.
#include "arus/config/limits_config.hpp"

#include "arus/config/value_parsers.hpp"

namespace arus {
namespace {

constexpr uint64_t kMaxQueueTimeoutMs = 604800000;  // 7 days, as every timeout
constexpr uint64_t kMaxCount = 10000000;            // as max_connections
constexpr uint64_t kMaxRate = 10000000;             // connections per second

Result<void> store(Result<uint64_t> parsed, uint64_t& out) {
  if (!parsed) return Error{parsed.error().message};
  out = parsed.value();
  return {};
}

}  // namespace

Result<void> set_limits_key(LimitsConfig& limits, std::string_view key, std::string_view value) {
  if (key == "queue_timeout_ms") {
    return store(parse_uint(value, 0, kMaxQueueTimeoutMs), limits.queue_timeout_ms);
  }
  if (key == "max_connections_per_source") {
    return store(parse_uint(value, 0, kMaxCount), limits.max_connections_per_source);
  }
  if (key == "rate_limit") return store(parse_uint(value, 0, kMaxRate), limits.rate_limit);
  if (key == "rate_limit_per_source") {
    return store(parse_uint(value, 0, kMaxRate), limits.rate_limit_per_source);
  }
  return Error{"unknown key"};
}

}  // namespace arus
