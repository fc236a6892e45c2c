// SourceTable: what a route remembers per client IP (open connections, its token bucket),
// for at most `capacity` sources: a new source beyond that takes the entry of one not seen
// lately (CLOCK, "second chance": an approximation of the least recently seen). An open-
// addressing hash table (linear probing, backward-shift deletion) with the key inline in
// a 64-byte entry, so a lookup reads one cache line and writes nothing else: no list
// links, no neighbour touched (issue 19). At most half full, so probe runs stay short;
// memory stays bounded by `capacity` whatever flood of addresses arrives (8 MiB at the
// default, in huge pages from 2 MiB on). Not
// thread-safe: its owner locks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "arus/worker/token_bucket.hpp"

namespace arus {

// A client IP: its 4 or 16 address bytes (SocketAddress::ip_bytes()).
struct SourceKey {
  std::array<uint8_t, 16> bytes{};
  uint8_t length = 0;

  static SourceKey of(std::string_view ip_bytes) noexcept;
  bool operator==(const SourceKey&) const = default;
};

// One source; an entry of the table's array (a cache line of its own).
struct alignas(64) SourceEntry {
  SourceKey key;
  bool used = false;  // the slot holds a source
  bool seen = false;  // seen since the CLOCK hand last passed: kept one more round
  uint32_t active = 0;          // open connections from this source
  TokenBucket bucket{0, 0};     // rate_limit_per_source
  uint64_t hash = 0;            // of key: growing and deleting need no rehash
};
static_assert(sizeof(SourceEntry) == 64);

class SourceTable {
 public:
  static constexpr size_t kDefaultCapacity = 65536;

  // `seed` keys the hash, so that addresses cannot be chosen to collide; the default is
  // different for every table.
  explicit SourceTable(size_t capacity = kDefaultCapacity, uint64_t seed = random_seed());
  SourceTable(const SourceTable&) = delete;
  SourceTable& operator=(const SourceTable&) = delete;

  // The entry of `key`, now seen; made (full bucket of `rate` at `now_ms`, no connection)
  // when new, taking the place of a source not seen lately when full. The reference is
  // valid until the next touch() (entries move). Throws std::bad_alloc only while the
  // table is still growing, before anything changed.
  SourceEntry& touch(const SourceKey& key, uint64_t rate, uint64_t now_ms);

  // The entry of `key`, or null when it is not (or no longer) remembered. Does not count
  // as seen. Valid until the next touch().
  SourceEntry* find(const SourceKey& key) noexcept;

  size_t size() const noexcept { return size_; }
  size_t capacity() const noexcept { return capacity_; }
  // The source the next new one would replace, were the table full (null when empty).
  const SourceEntry* next_to_forget() const noexcept;
  // Where `key`'s probe starts in the current array (tests build collisions with it).
  size_t home_slot(const SourceKey& key) const noexcept { return hash_of(key) & mask_; }
  size_t slot_count() const noexcept { return mask_ + 1; }

  static uint64_t random_seed() noexcept;

 private:
  uint64_t hash_of(const SourceKey& key) const noexcept;
  // The slot holding `key`, or the empty slot where it would go.
  size_t probe(const SourceKey& key, uint64_t hash) const noexcept;
  void resize(size_t slots);  // rehashes every source into `slots` slots; may throw
  size_t choose_victim() noexcept;   // advances the CLOCK hand to a source not seen lately
  void erase_at(size_t slot) noexcept;  // backward shift: no tombstones

  struct FreeSlots {
    void operator()(SourceEntry* slots) const noexcept;
  };

  size_t capacity_;
  size_t max_slots_;  // a power of two, at least twice capacity_
  uint64_t seed_;
  std::unique_ptr<SourceEntry[], FreeSlots> slots_;
  size_t mask_;  // slot count - 1
  size_t size_ = 0;
  size_t hand_ = 0;  // CLOCK hand: the next slot it looks at
};

}  // namespace arus
