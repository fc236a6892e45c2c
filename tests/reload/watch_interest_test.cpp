// Tests for which file events call for a reload (issue 11 item 5: other files written in
// the configuration's folder must not postpone it).
#include "arus/reload/watch_interest.hpp"

#include <gtest/gtest.h>

namespace arus {
namespace {

ReadLink no_links() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

WatchInterest plain_interest() {
  WatchInterest interest;
  interest.set_config(config_watch_points("/etc/arus/proxy.conf", no_links()));
  interest.set_filters({{"/etc/arus/filters", "filter.so"}});
  return interest;
}

TEST(WatchInterest, Issue11OtherFilesInTheFolderDoNotCount) {
  WatchInterest interest = plain_interest();
  for (const char* name : {"proxy.log", ".proxy.conf.swp", "proxy.conf~", "4913", "..2026_x",
                           "proxy.conf.tmp", "filter.so"}) {
    EXPECT_FALSE(interest.classify("/etc/arus", name).any()) << name;
  }
  EXPECT_FALSE(interest.classify("/etc/arus/filters", "other.so").any());
  EXPECT_FALSE(interest.classify("/elsewhere", "proxy.conf").any());
}

TEST(WatchInterest, ConfigAndFilterNamesCount) {
  WatchInterest interest = plain_interest();
  WatchChange config = interest.classify("/etc/arus", "proxy.conf");
  EXPECT_TRUE(config.config);
  EXPECT_FALSE(config.filters);
  WatchChange filter = interest.classify("/etc/arus/filters", "filter.so");
  EXPECT_FALSE(filter.config);
  EXPECT_TRUE(filter.filters);
}

TEST(WatchInterest, ConfigMapNamesCount) {
  WatchInterest interest = plain_interest();
  EXPECT_TRUE(interest.classify("/etc/arus", "..data").config);
  EXPECT_TRUE(interest.classify("/etc/arus", "..data_tmp").config);
  // Given without a folder: the working folder.
  WatchInterest relative;
  relative.set_config(config_watch_points("proxy.conf", no_links()));
  EXPECT_TRUE(relative.classify(".", "..data").config);
  EXPECT_TRUE(relative.classify(".", "proxy.conf").config);
}

TEST(WatchInterest, FoldersOnceEachConfigFirst) {
  WatchInterest interest;
  interest.set_config(config_watch_points(
      "/etc/arus/proxy.conf", [](const std::string& path) -> std::optional<std::string> {
        if (path == "/etc/arus/proxy.conf") return "/srv/proxy.conf";
        return std::nullopt;
      }));
  interest.set_filters({{"/srv", "filter.so"}, {"/opt/f", "a.so"}, {"/opt/f", "b.so"}});
  EXPECT_EQ(interest.folders(), (std::vector<std::string>{"/etc/arus", "/srv", "/opt/f"}));
  EXPECT_TRUE(interest.classify("/srv", "proxy.conf").config);
  EXPECT_TRUE(interest.classify("/srv", "filter.so").filters);
  EXPECT_FALSE(interest.classify("/srv", "filter.so").config);
}

}  // namespace
}  // namespace arus
