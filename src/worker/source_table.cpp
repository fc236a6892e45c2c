// SourceTable: a bounded map of client IPs with least-recently-seen eviction.
#include "arus/worker/source_table.hpp"

#include <algorithm>
#include <cstring>

#include "arus/balance/balancer.hpp"

namespace arus {

SourceKey SourceKey::of(std::string_view ip_bytes) noexcept {
  SourceKey key;
  key.length = static_cast<uint8_t>(std::min(ip_bytes.size(), key.bytes.size()));
  std::memcpy(key.bytes.data(), ip_bytes.data(), key.length);
  return key;
}

size_t SourceKeyHash::operator()(const SourceKey& key) const noexcept {
  return static_cast<size_t>(hash_client_address(
      std::string_view(reinterpret_cast<const char*>(key.bytes.data()), key.length)));
}

SourceEntry& SourceTable::touch(const SourceKey& key, uint64_t rate, uint64_t now_ms) {
  if (auto it = index_.find(key); it != index_.end()) {
    SourceEntry& entry = *it->second;
    lru_.erase(entry);
    lru_.push_front(entry);
    return entry;
  }
  SourceEntry* entry;
  if (entries_.size() < capacity_) {
    index_.reserve(index_.size() + 1);  // may throw: before anything changes
    entry = &entries_.emplace_back(key, rate, now_ms);
  } else {
    // Full: forget the least recently seen source and reuse its entry.
    entry = lru_.back();
    lru_.erase(*entry);
    index_.erase(entry->key);
    entry->key = key;
    entry->active = 0;
    entry->bucket = TokenBucket(rate, now_ms);
  }
  index_.emplace(key, entry);  // room reserved or freed just above: no rehash failure
  lru_.push_front(*entry);
  return *entry;
}

SourceEntry* SourceTable::find(const SourceKey& key) noexcept {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : it->second;
}

}  // namespace arus
