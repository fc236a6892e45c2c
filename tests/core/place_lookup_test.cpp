#include "arus/core/place_lookup.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace arus {
namespace {

TEST(PlaceLookup, FindsEachKeyAtItsPlaceWithoutAMapAndMovedOnesThroughIt) {
  const std::vector<std::string> running = {"a", "b", "c", "b"};
  int keys_read = 0;
  auto key_of = [&](size_t j) {
    ++keys_read;
    return std::string_view(running[j]);
  };
  PlaceLookup<std::string_view> lookup;
  EXPECT_EQ(lookup.find(0, "a", running.size(), key_of), 0u);
  EXPECT_EQ(lookup.find(2, "c", running.size(), key_of), 2u);
  EXPECT_EQ(keys_read, 2) << "at its place: one key read, no map";
  EXPECT_EQ(lookup.find(0, "c", running.size(), key_of), 2u) << "moved: found by the map";
  EXPECT_EQ(lookup.find(9, "b", running.size(), key_of), 1u) << "the first of two wins";
  EXPECT_EQ(lookup.find(1, "z", running.size(), key_of), std::nullopt);
  EXPECT_EQ(keys_read, 2 + 1 + 4 + 1) << "the map is made once";
}

TEST(PlaceLookup, AnEmptyRunningListFindsNothing) {
  PlaceLookup<int> lookup;
  auto key_of = [](size_t) { return 0; };
  EXPECT_EQ(lookup.find(0, 7, 0, key_of), std::nullopt);
  EXPECT_EQ(lookup.find(3, 0, 0, key_of), std::nullopt);
}

}  // namespace
}  // namespace arus
