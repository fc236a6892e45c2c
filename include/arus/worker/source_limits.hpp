// SourceLimits: a route's admission limits by client address and rate —
// max_connections_per_source, rate_limit, rate_limit_per_source — shared by every worker
// and every generation of the route (a reload applies new numbers, the counts stay).
// Thread-safe: one mutex, taken per new connection only on routes that set a limit.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "arus/config/limits_config.hpp"
#include "arus/worker/source_table.hpp"
#include "arus/worker/token_bucket.hpp"

namespace arus {

enum class SourceVerdict : uint8_t { kAdmit, kSourceLimit, kRateLimit, kSourceRateLimit };

class SourceLimits {
 public:
  SourceLimits(const LimitsConfig& config, uint64_t now_ms,
               size_t capacity = SourceTable::kDefaultCapacity);

  // A reload's commit: the new numbers apply from the next connection.
  void set_config(const LimitsConfig& config) noexcept;

  // A new connection from `source_ip` (SocketAddress::ip_bytes()) at `now_ms`
  // (CLOCK_MONOTONIC). Admitted: it takes a token of each bucket and counts as open from
  // its source until release(). Refused: why, and it took nothing (no token).
  SourceVerdict admit(std::string_view source_ip, uint64_t now_ms) noexcept;

  // An admitted connection closed. A source forgotten meanwhile (the table was full and
  // it was not seen lately) has nothing left to count down.
  void release(std::string_view source_ip) noexcept;

  size_t tracked_sources() const noexcept;

 private:
  // Read without the lock on the fast path of routes with no limit.
  std::atomic<bool> enabled_;
  // Some source has been counted: release() must look even after a reload turned the
  // limits off, so counts are right if a later one turns them back on.
  std::atomic<bool> counting_{false};
  mutable std::mutex mutex_;
  // Guarded by mutex_:
  LimitsConfig config_;
  TokenBucket route_bucket_;
  SourceTable sources_;
};

}  // namespace arus
