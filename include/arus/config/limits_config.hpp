// LimitsConfig: a route's protection keys (the backend queue, per-source and rate
// limits), parsed by set_limits_key. Per-backend caps live on BackendConfig.
#pragma once

#include <cstdint>
#include <string_view>

#include "arus/core/result.hpp"

namespace arus {

struct LimitsConfig {
  uint64_t queue_timeout_ms = 0;            // > 0: wait this long for a backend slot
  uint64_t max_connections_per_source = 0;  // per client IP; 0 = none
  uint64_t rate_limit = 0;                  // new connections per second; 0 = none
  uint64_t rate_limit_per_source = 0;       // per client IP; 0 = none

  bool per_source() const noexcept {
    return max_connections_per_source != 0 || rate_limit_per_source != 0;
  }
  bool any_admission_limit() const noexcept { return per_source() || rate_limit != 0; }
  bool operator==(const LimitsConfig&) const = default;
};

// Parses one of LimitsConfig's keys (queue_timeout_ms, max_connections_per_source,
// rate_limit, rate_limit_per_source) into `limits`; the error is a bare reason (the loader adds
// file, line, section and key).
Result<void> set_limits_key(LimitsConfig& limits, std::string_view key, std::string_view value);

}  // namespace arus
