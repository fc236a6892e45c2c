// PageCache: a rendering is shared only while some response still holds it and it is
// younger than the share window; each page has its own.
#include "arus/http/page_cache.hpp"

#include <gtest/gtest.h>

#include <string>

namespace arus {
namespace {

constexpr size_t kMetrics = 0;
constexpr size_t kStats = 1;

class PageCacheTest : public ::testing::Test {
 protected:
  int renders_ = 0;
  PageCache cache_{[this](size_t page) {
                     ++renders_;
                     return (page == kMetrics ? "metrics " : "stats ") + std::to_string(renders_);
                   },
                   /*page_count=*/2, /*share_window_ms=*/1000};
};

TEST_F(PageCacheTest, HeldRenderingIsSharedWithinTheWindow) {
  SharedBody first = cache_.body(kMetrics, 100);
  SharedBody second = cache_.body(kMetrics, 1099);
  EXPECT_EQ(first, second);
  EXPECT_EQ(*second, "metrics 1");
  EXPECT_EQ(cache_.renders(), 1u);
}

TEST_F(PageCacheTest, RenderingNobodyHoldsIsNotReused) {
  cache_.body(kMetrics, 100);  // sent and dropped at once
  EXPECT_EQ(*cache_.body(kMetrics, 100), "metrics 2") << "fresh figures when quiet";
}

TEST_F(PageCacheTest, WindowOverMeansANewRendering) {
  SharedBody held = cache_.body(kMetrics, 100);
  SharedBody later = cache_.body(kMetrics, 1100);
  EXPECT_NE(held, later);
  EXPECT_EQ(*later, "metrics 2");
  EXPECT_EQ(cache_.body(kMetrics, 1500), later) << "the new one is shared next";
}

TEST_F(PageCacheTest, PagesAreSeparate) {
  SharedBody metrics = cache_.body(kMetrics, 100);
  SharedBody stats = cache_.body(kStats, 100);
  EXPECT_EQ(*stats, "stats 2");
  EXPECT_EQ(cache_.body(kMetrics, 100), metrics);
}

}  // namespace
}  // namespace arus
