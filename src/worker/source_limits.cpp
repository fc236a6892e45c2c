// SourceLimits: one locked decision per new connection: check every limit, then take.
#include "arus/worker/source_limits.hpp"

#include <new>

namespace arus {

SourceLimits::SourceLimits(const LimitsConfig& config, uint64_t now_ms, size_t capacity)
    : enabled_(config.any_admission_limit()),
      config_(config),
      route_bucket_(config.rate_limit, now_ms),
      sources_(capacity) {}

void SourceLimits::set_config(const LimitsConfig& config) noexcept {
  std::lock_guard lock(mutex_);
  config_ = config;
  enabled_.store(config.any_admission_limit(), std::memory_order_relaxed);
}

SourceVerdict SourceLimits::admit(std::string_view source_ip, uint64_t now_ms) noexcept {
  if (!enabled_.load(std::memory_order_relaxed)) return SourceVerdict::kAdmit;
  std::lock_guard lock(mutex_);
  SourceEntry* source = nullptr;
  if (config_.per_source()) {
    try {
      source = &sources_.touch(SourceKey::of(source_ip), config_.rate_limit_per_source, now_ms);
    } catch (const std::bad_alloc&) {
      source = nullptr;  // out of memory: this source goes unlimited rather than refused
    }
  }
  // Decide first, take after: a refused connection takes no token (SPEC "Rate limits").
  const uint64_t per_source_cap = config_.max_connections_per_source;
  if (source != nullptr && per_source_cap != 0 && source->active >= per_source_cap) {
    return SourceVerdict::kSourceLimit;
  }
  const bool route_rate = config_.rate_limit != 0;
  if (route_rate && !route_bucket_.has_token(config_.rate_limit, now_ms)) {
    return SourceVerdict::kRateLimit;
  }
  const bool source_rate = source != nullptr && config_.rate_limit_per_source != 0;
  if (source_rate && !source->bucket.has_token(config_.rate_limit_per_source, now_ms)) {
    return SourceVerdict::kSourceRateLimit;
  }
  if (route_rate) route_bucket_.take();
  if (source_rate) source->bucket.take();
  if (source != nullptr) {
    ++source->active;
    counting_.store(true, std::memory_order_relaxed);
  }
  return SourceVerdict::kAdmit;
}

void SourceLimits::release(std::string_view source_ip) noexcept {
  if (!counting_.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(mutex_);
  SourceEntry* source = sources_.find(SourceKey::of(source_ip));
  if (source != nullptr && source->active > 0) --source->active;
}

size_t SourceLimits::tracked_sources() const noexcept {
  std::lock_guard lock(mutex_);
  return sources_.size();
}

}  // namespace arus
