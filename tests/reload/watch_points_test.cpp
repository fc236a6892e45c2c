// Tests for the symlink walk: which folder entries a configuration path depends on, on a
// fake file system of symlinks (issue 12 item 4).
#include "arus/reload/watch_points.hpp"

#include <gtest/gtest.h>

#include <map>

namespace arus {
namespace {

// Symlinks by path; everything else is a plain file or folder.
ReadLink links(std::map<std::string, std::string> table) {
  return [table = std::move(table)](const std::string& path) -> std::optional<std::string> {
    auto it = table.find(path);
    if (it == table.end()) return std::nullopt;
    return it->second;
  };
}

using Points = std::vector<WatchPoint>;

TEST(WatchPoints, PlainPathIsItsFolderAndName) {
  EXPECT_EQ(watch_points("proxy.conf", links({})), (Points{{".", "proxy.conf"}}));
  EXPECT_EQ(watch_points("/etc/arus/proxy.conf", links({})), (Points{{"/etc/arus", "proxy.conf"}}));
  EXPECT_EQ(watch_points("conf//./proxy.conf", links({})), (Points{{"conf", "proxy.conf"}}));
  EXPECT_EQ(watch_points("/proxy.conf", links({})), (Points{{"/", "proxy.conf"}}));
  EXPECT_EQ(watch_points("../etc/proxy.conf", links({})), (Points{{"../etc", "proxy.conf"}}));
}

TEST(WatchPoints, Issue12FileLinkedIntoAnotherFolder) {
  // proxy.conf -> ../srv/proxy.conf: the link and the file it names.
  EXPECT_EQ(watch_points("app/proxy.conf", links({{"app/proxy.conf", "../srv/proxy.conf"}})),
            (Points{{"app", "proxy.conf"}, {"srv", "proxy.conf"}}));
  EXPECT_EQ(watch_points("proxy.conf", links({{"proxy.conf", "/srv/arus/proxy.conf"}})),
            (Points{{".", "proxy.conf"}, {"/srv/arus", "proxy.conf"}}));
}

TEST(WatchPoints, Issue12SwappedParentFolderLink) {
  // current -> releases/7, config given as current/proxy.conf.
  EXPECT_EQ(
      watch_points("/opt/app/current/proxy.conf", links({{"/opt/app/current", "releases/7"}})),
      (Points{{"/opt/app", "current"}, {"/opt/app/releases/7", "proxy.conf"}}));
}

TEST(WatchPoints, ConfigMapMount) {
  EXPECT_EQ(watch_points("/etc/arus/proxy.conf",
                         links({{"/etc/arus/proxy.conf", "..data/proxy.conf"},
                                {"/etc/arus/..data", "..2026_12_01_10_00_01.1"}})),
            (Points{{"/etc/arus", "proxy.conf"},
                    {"/etc/arus", "..data"},
                    {"/etc/arus/..2026_12_01_10_00_01.1", "proxy.conf"}}));
}

TEST(WatchPoints, ChainsAndDotDotAfterALink) {
  // a -> b/c (b -> /x/y), and ".." after a link applies to where the link led.
  EXPECT_EQ(watch_points("a/../p.conf", links({{"a", "b/c"}, {"b", "/x/y"}})),
            (Points{{".", "a"}, {".", "b"}, {"/x/y", "p.conf"}}));
  EXPECT_EQ(watch_points("/", links({})), Points{});
  EXPECT_EQ(watch_points("../../p.conf", links({})), (Points{{"../..", "p.conf"}}));
}

TEST(WatchPoints, FolderOfPathAsWritten) {
  EXPECT_EQ(folder_of("proxy.conf"), ".");
  EXPECT_EQ(folder_of("/proxy.conf"), "/");
  EXPECT_EQ(folder_of("/etc/arus/proxy.conf"), "/etc/arus");
  EXPECT_EQ(folder_of("current/proxy.conf"), "current");  // not resolved
}

TEST(WatchPoints, LinkLoopStops) {
  Points points = watch_points("loop", links({{"loop", "loop"}}));
  ASSERT_FALSE(points.empty());
  EXPECT_LE(points.size(), 41u);
  EXPECT_EQ(points.back(), (WatchPoint{".", "loop"}));
}

}  // namespace
}  // namespace arus
