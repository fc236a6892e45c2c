// Tests of the rule for who may change filter code, on made-up stat results: no kernel
// state is needed beyond a path that is on no read-only mount.
#include "arus/plugin/source_safety.hpp"

#include <gtest/gtest.h>

namespace arus {
namespace {

constexpr uid_t kRunUid = 65534;
// statvfs fails on a path that does not exist: not a read-only mount.
const std::string kNowhere = "/nonexistent/arus-source-safety";

struct stat entry(uid_t uid, gid_t gid, mode_t mode) {
  struct stat st {};
  st.st_uid = uid;
  st.st_gid = gid;
  st.st_mode = mode;
  return st;
}

std::string reason(const struct stat& st, bool is_parent = false) {
  return unsafe_source_reason(kNowhere, st, kRunUid, is_parent);
}

TEST(SourceSafety, RootOrTheRunUserMayOwn) {
  EXPECT_EQ(reason(entry(0, 0, S_IFREG | 0644)), "");
  EXPECT_EQ(reason(entry(kRunUid, kRunUid, S_IFREG | 0644)), "");
  EXPECT_EQ(reason(entry(1000, 0, S_IFREG | 0644)),
            "owned by uid 1000, neither the proxy's user (uid 65534) nor root");
}

TEST(SourceSafety, NobodyElseMayWrite) {
  EXPECT_EQ(reason(entry(0, 0, S_IFREG | 0666)), "world-writable");
  EXPECT_EQ(reason(entry(kRunUid, kRunUid, S_IFDIR | 0757)), "world-writable");
}

// The case: root:nogroup 0664 could be rewritten by any member of nogroup.
TEST(SourceSafety, GroupWriteOnlyForRootsGroup) {
  EXPECT_EQ(reason(entry(0, 0, S_IFREG | 0664)), "");
  EXPECT_EQ(reason(entry(0, 65534, S_IFREG | 0664)),
            "group-writable by gid 65534 (only root's group, gid 0, may write)");
  EXPECT_EQ(reason(entry(kRunUid, 100, S_IFDIR | 0775)),
            "group-writable by gid 100 (only root's group, gid 0, may write)");
}

TEST(SourceSafety, StickyBitExcusesWriteBitsOfParentsOnly) {
  EXPECT_EQ(reason(entry(0, 0, S_IFDIR | 01777), /*is_parent=*/true), "");
  EXPECT_EQ(reason(entry(0, 0, S_IFDIR | 01777)), "world-writable");
  // The owner of a sticky folder may still remove what is in it.
  EXPECT_EQ(reason(entry(1000, 0, S_IFDIR | 01777), /*is_parent=*/true),
            "owned by uid 1000, neither the proxy's user (uid 65534) nor root");
}

}  // namespace
}  // namespace arus
