// ConfigWatcher itself, against a real inotify and a real Reactor turned by the test:
// the ways a file gets replaced (rename, in-place write, ConfigMap swap, swapped folder
// link), other files in the folder, filter files. Which names count is decided by
// WatchInterest and watch_points (their own tests); these check that the kernel's
// events reach that decision and come out as one callback per change.
#include "arus/reload/config_watcher.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "../plugin/filter_test_util.hpp"

namespace arus {
namespace {

using testing::StderrCapture;
using testing::TempDir;
using testing::write_file;

constexpr uint64_t kQuietMs = 40;  // shortened through create(); the proxy waits 150 ms

// Replaces `path` as most editors save: a new file beside it, renamed over it.
void save_by_rename(const std::string& path, const std::string& text) {
  write_file(path + ".swp", text);
  ASSERT_EQ(std::rename((path + ".swp").c_str(), path.c_str()), 0);
}

// Rewrites `path` in place (same inode) in several writes, as `>` in a shell or vi with
// backupcopy=yes does: a burst of events for one change.
void write_in_place(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  size_t half = text.size() / 2;
  ASSERT_EQ(::write(fd, text.data(), half), static_cast<ssize_t>(half));
  ASSERT_EQ(::write(fd, text.data() + half, text.size() - half),
            static_cast<ssize_t>(text.size() - half));
  ::close(fd);
}

void make_symlink(const std::string& target, const std::string& link) {
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0) << link;
}

// Points `link` at `target` atomically, as `ln -s target tmp && mv -T tmp link`.
void swap_symlink(const std::string& target, const std::string& link,
                  const std::string& temporary) {
  make_symlink(target, temporary);
  ASSERT_EQ(std::rename(temporary.c_str(), link.c_str()), 0);
}

std::string describe(const std::vector<WatchChange>& changes) {
  std::string out;
  for (const WatchChange& change : changes) {
    out += std::string("{config=") + (change.config ? "1" : "0") +
           " filters=" + (change.filters ? "1" : "0") + "} ";
  }
  return out;
}

// A watcher on a configuration path with a short quiet period, every callback recorded,
// and a marker: a filter file in a folder of its own. One inotify queue keeps the order
// of events, so once the marker's change has come out, every event of what the test
// did before it has been read too: "nothing more was reported" needs no waiting.
class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir.path().empty());
    auto made = Reactor::create();
    ASSERT_TRUE(made.ok());
    reactor = std::move(*made);
    std::filesystem::create_directory(dir.file("marker"));
    write_file(marker(), "0");
  }

  std::string marker() const { return dir.file("marker/mark.so"); }

  // Starts watching `config_path` and the files `filters` (plus the marker).
  void watch(const std::string& config_path, std::vector<std::string> filters = {}) {
    auto made = ConfigWatcher::create(
        *reactor, config_path, [this](WatchChange change) {
          changes.push_back(change);
          last_call = std::chrono::steady_clock::now();
        },
        kQuietMs);
    ASSERT_TRUE(made.ok()) << made.error().message;
    watcher = std::move(*made);
    filters.push_back(marker());
    watcher->watch_filters(std::move(filters));
  }

  // Turns the reactor until `count` callbacks have come; false after 10 s.
  bool wait_for_calls(size_t count) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (changes.size() < count) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      reactor->run_once(5);
    }
    return true;
  }

  // Turns the reactor for `ms` milliseconds.
  void run_for(uint64_t ms) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end) reactor->run_once(5);
  }

  // Changes the marker and waits for its callback; then `changes` holds every callback
  // the test's earlier file operations caused, and the marker's last.
  void settle() {
    write_in_place(marker(), "mark " + std::to_string(changes.size()));
    size_t before = changes.size();
    ASSERT_TRUE(wait_for_calls(before + 1)) << describe(changes);
  }

  // One callback saying `expected` once the quiet period is over, and nothing else once
  // the marker, changed after that callback, has come through.
  void expect_one_change(WatchChange expected) {
    ASSERT_TRUE(wait_for_calls(1)) << "no callback";
    settle();
    ASSERT_EQ(changes.size(), 2u) << describe(changes);
    EXPECT_EQ(changes[0].config, expected.config) << describe(changes);
    EXPECT_EQ(changes[0].filters, expected.filters) << describe(changes);
    EXPECT_FALSE(changes[1].config) << "the marker's callback carries an earlier change: "
                                    << describe(changes);
    EXPECT_TRUE(changes[1].filters);
    changes.clear();
  }

  TempDir dir;
  StderrCapture log;  // watch_failed warnings
  std::unique_ptr<Reactor> reactor;
  std::unique_ptr<ConfigWatcher> watcher;
  std::vector<WatchChange> changes;
  std::chrono::steady_clock::time_point last_call;
};

constexpr WatchChange kConfig{.config = true, .filters = false};
constexpr WatchChange kFilters{.config = false, .filters = true};

TEST_F(WatcherTest, ASaveByRenameTriggersOnce) {
  const std::string path = dir.file("proxy.conf");
  write_file(path, "first");
  watch(path);
  for (int save = 0; save < 2; ++save) {  // the watch outlives the inode it first saw
    auto written = std::chrono::steady_clock::now();
    save_by_rename(path, "save " + std::to_string(save));
    ASSERT_TRUE(wait_for_calls(1));
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(last_call - written);
    std::printf("save %d: callback %lld ms after the rename (quiet period %llu ms)\n", save,
                static_cast<long long>(waited.count()),
                static_cast<unsigned long long>(kQuietMs));
    // Printed, not asserted: the quiet period counts from the reactor's clock as of its
    // last wake-up, which can be some milliseconds before the rename was seen.
    expect_one_change(kConfig);
  }
}

TEST_F(WatcherTest, AnInPlaceWriteTriggersOnce) {
  const std::string path = dir.file("proxy.conf");
  write_file(path, "first");
  watch(path);
  for (int save = 0; save < 2; ++save) {
    write_in_place(path, "rewritten " + std::to_string(save));
    expect_one_change(kConfig);
  }
}

TEST_F(WatcherTest, ManyEventsOfOneSaveAreOneCallback) {
  const std::string path = dir.file("proxy.conf");
  write_file(path, "first");
  watch(path);
  // Truncate, two writes, close, attribute change, then a rename over it: one burst.
  write_in_place(path, "rewritten");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  save_by_rename(path, "renamed");
  expect_one_change(kConfig);
}

TEST_F(WatcherTest, AnotherFileInTheFolderDoesNotTrigger) {
  const std::string path = dir.file("proxy.conf");
  write_file(path, "first");
  watch(path);
  // A log written next to the configuration, an editor's swap file, a new folder.
  for (int i = 0; i < 5; ++i) write_in_place(dir.file("proxy.log"), "line " + std::to_string(i));
  save_by_rename(dir.file("notes.txt"), "notes");
  ASSERT_EQ(::unlink(dir.file("notes.txt").c_str()), 0);
  std::filesystem::create_directory(dir.file("backup"));
  // Their events are queued already, so the first turn reads them. A callback they
  // caused would come a quiet period later: turn the reactor for three. (Load can only
  // make this part miss such a callback, never report one that did not happen; the
  // marker below then checks that nothing they did is pending.)
  run_for(3 * kQuietMs);
  EXPECT_TRUE(changes.empty()) << describe(changes);
  settle();
  ASSERT_EQ(changes.size(), 1u) << describe(changes);
  EXPECT_FALSE(changes[0].config) << describe(changes);
  EXPECT_TRUE(changes[0].filters);
}

// The kubelet's update of a ConfigMap volume: the file is a link through "..data" to a
// timestamped folder; a new folder is written, "..data_tmp" renamed over "..data", the old
// folder removed.
TEST_F(WatcherTest, AConfigMapDataSwapTriggers) {
  const std::string mount = dir.file("configmap");
  std::filesystem::create_directory(mount);
  std::filesystem::create_directory(mount + "/..2026_12_04_0");
  write_file(mount + "/..2026_12_04_0/proxy.conf", "version 0");
  make_symlink("..2026_12_04_0", mount + "/..data");
  make_symlink("..data/proxy.conf", mount + "/proxy.conf");
  watch(mount + "/proxy.conf");
  std::string current = mount + "/..2026_12_04_0";
  for (int version = 1; version <= 3; ++version) {  // later swaps: the mount is watched
    std::string next = mount + "/..2026_12_04_" + std::to_string(version);
    std::filesystem::create_directory(next);
    write_file(next + "/proxy.conf", "version " + std::to_string(version));
    swap_symlink(std::filesystem::path(next).filename(), mount + "/..data",
                 mount + "/..data_tmp");
    std::filesystem::remove_all(current);
    current = next;
    expect_one_change(kConfig);
  }
}

TEST_F(WatcherTest, AFilterFileChangeTriggers) {
  const std::string path = dir.file("proxy.conf");
  write_file(path, "config");
  std::filesystem::create_directory(dir.file("plugins"));
  const std::string filter = dir.file("plugins/upper.so");
  write_file(filter, "build 0");
  watch(path, {filter});
  save_by_rename(filter, "build 1");  // as `install` replaces a file
  expect_one_change(kFilters);
  write_in_place(filter, "build 2");  // as `cp` over it does
  expect_one_change(kFilters);
  write_in_place(dir.file("plugins/lower.so"), "not loaded");  // not a loaded filter
  settle();
  EXPECT_EQ(changes.size(), 1u) << describe(changes);
}

TEST_F(WatcherTest, FiltersWatchedAreExactlyTheLastList) {
  const std::string path = dir.file("proxy.conf");
  write_file(path, "config");
  std::filesystem::create_directory(dir.file("plugins"));
  write_file(dir.file("plugins/a.so"), "a");
  write_file(dir.file("plugins/b.so"), "b");
  watch(path, {dir.file("plugins/a.so")});
  watcher->watch_filters({dir.file("plugins/b.so"), marker()});  // a reload swapped them
  write_in_place(dir.file("plugins/a.so"), "a again");
  settle();
  EXPECT_EQ(changes.size(), 1u) << "a filter no longer loaded still counts: "
                                << describe(changes);
  changes.clear();
  write_in_place(dir.file("plugins/b.so"), "b again");
  expect_one_change(kFilters);
}

// A release layout: `current` links to releases/N and is swapped to a new release. The
// watcher follows the link to the new folder (an edit there counts) and lets the old
// one go (deleting it later is no change).
TEST_F(WatcherTest, FollowsTheFolderLinkToItsReplacement) {
  const std::string current = dir.file("current");
  for (int n = 1; n <= 3; ++n) {
    std::filesystem::create_directories(dir.file("releases/" + std::to_string(n)));
    write_file(dir.file("releases/" + std::to_string(n) + "/proxy.conf"),
               "release " + std::to_string(n));
  }
  make_symlink("releases/1", current);
  watch(current + "/proxy.conf");
  for (int n = 2; n <= 3; ++n) {
    swap_symlink("releases/" + std::to_string(n), current, current + ".tmp");
    expect_one_change(kConfig);
    write_in_place(current + "/proxy.conf", "edited in release " + std::to_string(n));
    expect_one_change(kConfig);
    std::filesystem::remove_all(dir.file("releases/" + std::to_string(n - 1)));
    settle();
    EXPECT_EQ(changes.size(), 1u) << "the release swapped out is still watched: "
                                  << describe(changes);
    changes.clear();
  }
}

TEST_F(WatcherTest, CreateFailsWhenTheFolderCannotBeWatched) {
  auto made = ConfigWatcher::create(*reactor, dir.file("missing/proxy.conf"),
                                    [](WatchChange) {});
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message.find("inotify_add_watch"), std::string::npos)
      << made.error().message;
}

}  // namespace
}  // namespace arus
