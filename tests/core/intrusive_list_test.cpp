// IntrusiveList: linking and unlinking through a hook inside the elements.
#include "arus/core/intrusive_list.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace arus {
namespace {

struct Item {
  int value = 0;
  IntrusiveListHook<Item> link;
};
using ItemList = IntrusiveList<Item, &Item::link>;

// Empties the list from the front, as the worker's stop_now does.
std::vector<int> drain(ItemList& list) {
  std::vector<int> values;
  while (!list.empty()) {
    Item* item = list.front();
    values.push_back(item->value);
    list.erase(*item);
  }
  return values;
}

TEST(IntrusiveListTest, PushesToTheFront) {
  Item a{1, {}}, b{2, {}}, c{3, {}};
  ItemList list;
  EXPECT_TRUE(list.empty());
  list.push_front(a);
  list.push_front(b);
  list.push_front(c);
  EXPECT_TRUE(b.link.linked());
  EXPECT_EQ(drain(list), (std::vector<int>{3, 2, 1}));
  EXPECT_FALSE(b.link.linked());
}

TEST(IntrusiveListTest, ErasesFromAnyPosition) {
  Item a{1, {}}, b{2, {}}, c{3, {}}, d{4, {}};
  ItemList list;
  for (Item* item : {&a, &b, &c, &d}) list.push_front(*item);
  list.erase(b);  // middle
  list.erase(d);  // head
  list.erase(a);  // tail
  EXPECT_FALSE(a.link.linked());
  EXPECT_EQ(drain(list), (std::vector<int>{3}));
  list.push_front(a);  // an erased element can be linked again
  EXPECT_EQ(drain(list), (std::vector<int>{1}));
}

TEST(IntrusiveListTest, PushesToTheBackAndKeepsTheTail) {
  Item a{1, {}}, b{2, {}}, c{3, {}};
  ItemList list;
  list.push_back(a);
  list.push_back(b);
  list.push_front(c);
  EXPECT_EQ(list.back(), &b);
  EXPECT_EQ(ItemList::next(c), &a);
  list.erase(b);
  EXPECT_EQ(list.back(), &a);
  list.push_back(b);
  EXPECT_EQ(drain(list), (std::vector<int>{3, 1, 2}));
  EXPECT_EQ(list.back(), nullptr);
}

}  // namespace
}  // namespace arus
