// SourceTable: what a route remembers per client IP (open connections, its token bucket),
// for at most `capacity` sources: a new source beyond that takes the place of the least
// recently seen one. O(1) per lookup (hash map + intrusive LRU list); entries are reused,
// so a flood of addresses cannot grow memory past `capacity` entries. Not thread-safe:
// its owner locks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string_view>
#include <unordered_map>

#include "arus/core/intrusive_list.hpp"
#include "arus/worker/token_bucket.hpp"

namespace arus {

// A client IP: its 4 or 16 address bytes (SocketAddress::ip_bytes()).
struct SourceKey {
  std::array<uint8_t, 16> bytes{};
  uint8_t length = 0;

  static SourceKey of(std::string_view ip_bytes) noexcept;
  bool operator==(const SourceKey&) const = default;
};

struct SourceKeyHash {
  size_t operator()(const SourceKey& key) const noexcept;
};

struct SourceEntry {
  SourceEntry(const SourceKey& k, uint64_t rate, uint64_t now_ms) : key(k),
      bucket(rate, now_ms) {}
  SourceKey key;
  uint32_t active = 0;  // open connections from this source
  TokenBucket bucket;   // rate_limit_per_source
  IntrusiveListHook<SourceEntry> lru_link;
};

class SourceTable {
 public:
  static constexpr size_t kDefaultCapacity = 65536;

  explicit SourceTable(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}
  SourceTable(const SourceTable&) = delete;
  SourceTable& operator=(const SourceTable&) = delete;

  // The entry of `key`, now the most recently seen; made (full bucket of `rate` at
  // `now_ms`, no connection) when new, replacing the least recently seen one when full.
  // Throws std::bad_alloc only while the table is still growing.
  SourceEntry& touch(const SourceKey& key, uint64_t rate, uint64_t now_ms);

  // The entry of `key`, or null when it is not (or no longer) remembered. Does not count
  // as seen.
  SourceEntry* find(const SourceKey& key) noexcept;

  size_t size() const noexcept { return index_.size(); }
  size_t capacity() const noexcept { return capacity_; }
  // The least recently seen source (next to be forgotten), or null.
  const SourceEntry* oldest() const noexcept { return lru_.back(); }

 private:
  size_t capacity_;
  std::unordered_map<SourceKey, SourceEntry*, SourceKeyHash> index_;
  std::deque<SourceEntry> entries_;  // at most capacity_; never moves an entry
  IntrusiveList<SourceEntry, &SourceEntry::lru_link> lru_;  // most recently seen first
};

}  // namespace arus
