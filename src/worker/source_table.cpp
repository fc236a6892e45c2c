// SourceTable: a bounded open-addressing map of client IPs with CLOCK eviction.
#include "arus/worker/source_table.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "arus/core/hash_mix.hpp"

namespace arus {
namespace {

constexpr size_t kFirstSlots = 16;
constexpr size_t kHugePage = size_t{2} << 20;
// Sources with open connections the CLOCK hand passes over, at most, to find an idle one.
constexpr size_t kMaxKeptBusy = 64;

}  // namespace

SourceKey SourceKey::of(std::string_view ip_bytes) noexcept {
  SourceKey key;
  key.length = static_cast<uint8_t>(std::min(ip_bytes.size(), key.bytes.size()));
  std::memcpy(key.bytes.data(), ip_bytes.data(), key.length);
  return key;
}

uint64_t SourceTable::random_seed() noexcept {
  static std::atomic<uint64_t> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return splitmix64_finalize(static_cast<uint64_t>(now) ^
                             splitmix64_finalize(counter.fetch_add(1, std::memory_order_relaxed)));
}

SourceTable::SourceTable(size_t capacity, uint64_t seed)
    : capacity_(std::max<size_t>(capacity, 1)),
      max_slots_(std::bit_ceil(std::max(2 * capacity_, kFirstSlots))),
      seed_(seed),
      mask_(0) {}

uint64_t SourceTable::hash_of(const SourceKey& key) const noexcept {
  // The 16 bytes as two words (unused bytes are zero), the length apart: 4 bytes of an
  // IPv4 address never equal a 16-byte key.
  uint64_t low;
  uint64_t high;
  std::memcpy(&low, key.bytes.data(), 8);
  std::memcpy(&high, key.bytes.data() + 8, 8);
  return splitmix64_finalize(splitmix64_finalize(low ^ seed_) ^ high ^
                             (uint64_t{key.length} << 56));
}

size_t SourceTable::probe(const SourceKey& key, uint64_t hash) const noexcept {
  // At most half full: an empty slot ends every run.
  size_t i = hash & mask_;
  while (slots_[i].used && !(slots_[i].hash == hash && slots_[i].key == key)) {
    i = (i + 1) & mask_;
  }
  return i;
}

SourceEntry& SourceTable::touch(const SourceKey& key, uint64_t rate, uint64_t now_ms) {
  const uint64_t hash = hash_of(key);
  if (slots_ == nullptr) resize(kFirstSlots);  // may throw: nothing changed yet
  size_t slot = probe(key, hash);
  if (slots_[slot].used) {
    slots_[slot].seen = true;
    return slots_[slot];
  }
  if (size_ == capacity_) {
    erase_at(choose_victim());  // full: forget a source not seen lately
    slot = probe(key, hash);    // the shift may have moved the run
  } else if (2 * (size_ + 1) > mask_ + 1) {
    resize(2 * (mask_ + 1));  // may throw: nothing changed yet; never past max_slots_
    slot = probe(key, hash);
  }
  SourceEntry& entry = slots_[slot];
  entry.key = key;
  entry.used = true;
  entry.seen = true;
  entry.active = 0;
  entry.bucket = TokenBucket(rate, now_ms);
  entry.hash = hash;
  ++size_;
  return entry;
}

SourceEntry* SourceTable::find(const SourceKey& key) noexcept {
  if (slots_ == nullptr) return nullptr;
  SourceEntry& entry = slots_[probe(key, hash_of(key))];
  return entry.used ? &entry : nullptr;
}

void SourceTable::FreeSlots::operator()(SourceEntry* slots) const noexcept { std::free(slots); }

void SourceTable::resize(size_t slots) {
  slots = std::min(slots, max_slots_);
  // An array of 2 MiB or more (from 8,192 sources on, every page of it touched anyway)
  // asks for huge pages: a lookup's one miss then costs no page-table walk.
  const size_t bytes = slots * sizeof(SourceEntry);  // a power of two
  const size_t align = bytes >= kHugePage ? kHugePage : alignof(SourceEntry);
  void* memory = std::aligned_alloc(align, bytes);
  if (memory == nullptr) throw std::bad_alloc();
  if (align == kHugePage) madvise(memory, bytes, MADV_HUGEPAGE);  // a hint: failure is fine
  std::unique_ptr<SourceEntry[], FreeSlots> fresh(
      std::uninitialized_default_construct_n(static_cast<SourceEntry*>(memory), slots) - slots);
  std::unique_ptr<SourceEntry[], FreeSlots> old = std::move(slots_);
  const size_t old_count = old == nullptr ? 0 : mask_ + 1;
  slots_ = std::move(fresh);
  mask_ = slots - 1;
  hand_ = 0;  // positions changed; the seen marks carry the CLOCK's memory
  for (size_t i = 0; i < old_count; ++i) {
    if (old[i].used) slots_[probe(old[i].key, old[i].hash)] = old[i];
  }
}

size_t SourceTable::choose_victim() noexcept {
  // Each source the hand passes loses its mark; the first unmarked one goes, unless it
  // still has open connections (its count would restart at 0, past its cap): up to
  // kMaxKeptBusy of those are passed over per eviction, so a table full of busy sources
  // still costs O(1). At worst one lap clears every mark, amortised O(1): a lap clears
  // marks that as many touches set.
  size_t busy_passed = 0;
  for (;;) {
    SourceEntry& entry = slots_[hand_];
    if (entry.used) {
      if (!entry.seen) {
        if (entry.active == 0 || busy_passed == kMaxKeptBusy) return hand_;
        ++busy_passed;
      }
      entry.seen = false;
    }
    hand_ = (hand_ + 1) & mask_;
  }
}

void SourceTable::erase_at(size_t slot) noexcept {
  // Backward shift: each later entry of the run moves into the hole unless the hole lies
  // before its home slot; lookups then never need a tombstone. Entries only move back to
  // the hole, which is where the hand stands, so none jumps over the hand.
  slots_[slot].used = false;
  --size_;
  size_t hole = slot;
  for (size_t i = (slot + 1) & mask_; slots_[i].used; i = (i + 1) & mask_) {
    const size_t home = slots_[i].hash & mask_;
    if (((i - home) & mask_) >= ((i - hole) & mask_)) {
      slots_[hole] = slots_[i];
      slots_[i].used = false;
      hole = i;
    }
  }
}

const SourceEntry* SourceTable::next_to_forget() const noexcept {
  if (size_ == 0) return nullptr;
  // choose_victim() without moving the hand or clearing marks: past the first lap, every
  // mark counts as cleared.
  size_t busy_passed = 0;
  for (size_t n = 0, i = hand_;; ++n, i = (i + 1) & mask_) {
    const SourceEntry& entry = slots_[i];
    if (!entry.used) continue;
    if (!entry.seen || n > mask_) {
      if (entry.active == 0 || busy_passed == kMaxKeptBusy) return &entry;
      ++busy_passed;
    }
  }
}

}  // namespace arus
