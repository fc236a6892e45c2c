// PlaceLookup: where an entry of a new list stood in the running list, by its key. A
// reload that adds, removes or moves nothing finds every entry at its own index, so that
// is tried first; the map from key to index is made at the first miss, and only once.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <unordered_map>

namespace arus {

template <class Key, class Hash = std::hash<Key>>
class PlaceLookup {
 public:
  // The running list's index of `key`, whose entry in the new list is at `i`; nullopt
  // when the running list has no such key. `key_of(j)` gives the running list's key at
  // j < count; every call on one lookup must pass the same list. Where two entries have
  // one key the first wins.
  template <class KeyOf>
  std::optional<size_t> find(size_t i, const Key& key, size_t count, KeyOf&& key_of) {
    if (i < count && key_of(i) == key) return i;
    if (!mapped_) {
      by_key_.reserve(count);
      for (size_t j = 0; j < count; ++j) by_key_.emplace(key_of(j), j);
      mapped_ = true;
    }
    auto found = by_key_.find(key);
    if (found == by_key_.end()) return std::nullopt;
    return found->second;
  }

 private:
  bool mapped_ = false;
  std::unordered_map<Key, size_t, Hash> by_key_;
};

}  // namespace arus
