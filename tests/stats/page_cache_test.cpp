// PageCache: a rendering is shared only while some response still holds it and it is
// younger than the share window; each page has its own.
#include "arus/stats/page_cache.hpp"

#include <gtest/gtest.h>

#include <string>

namespace arus {
namespace {

class PageCacheTest : public ::testing::Test {
 protected:
  int renders_ = 0;
  PageCache cache_{[this](StatsPage page) {
                     ++renders_;
                     return (page == StatsPage::kMetrics ? "metrics " : "stats ") +
                            std::to_string(renders_);
                   },
                   /*share_window_ms=*/1000};
};

TEST_F(PageCacheTest, HeldRenderingIsSharedWithinTheWindow) {
  SharedBody first = cache_.body(StatsPage::kMetrics, 100);
  SharedBody second = cache_.body(StatsPage::kMetrics, 1099);
  EXPECT_EQ(first, second);
  EXPECT_EQ(*second, "metrics 1");
  EXPECT_EQ(cache_.renders(), 1u);
}

TEST_F(PageCacheTest, RenderingNobodyHoldsIsNotReused) {
  cache_.body(StatsPage::kMetrics, 100);  // sent and dropped at once
  EXPECT_EQ(*cache_.body(StatsPage::kMetrics, 100), "metrics 2") << "fresh figures when quiet";
}

TEST_F(PageCacheTest, WindowOverMeansANewRendering) {
  SharedBody held = cache_.body(StatsPage::kMetrics, 100);
  SharedBody later = cache_.body(StatsPage::kMetrics, 1100);
  EXPECT_NE(held, later);
  EXPECT_EQ(*later, "metrics 2");
  EXPECT_EQ(cache_.body(StatsPage::kMetrics, 1500), later) << "the new one is shared next";
}

TEST_F(PageCacheTest, PagesAreSeparate) {
  SharedBody metrics = cache_.body(StatsPage::kMetrics, 100);
  SharedBody stats = cache_.body(StatsPage::kStats, 100);
  EXPECT_EQ(*stats, "stats 2");
  EXPECT_EQ(cache_.body(StatsPage::kMetrics, 100), metrics);
}

}  // namespace
}  // namespace arus
