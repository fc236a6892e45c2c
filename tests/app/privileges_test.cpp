// Privilege drop and the plugin_dir check. The switches that need root run in a forked
// child (a dropped process cannot come back) and are skipped when not run as root.
#include "arus/app/privileges.hpp"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace arus {
namespace {

struct Account {
  std::string name;
  uid_t uid;
  gid_t gid;
};

std::optional<Account> account_named(const char* name) {
  passwd* entry = getpwnam(name);  // single-threaded test: the static buffer is fine
  if (entry == nullptr) return std::nullopt;
  return Account{entry->pw_name, entry->pw_uid, entry->pw_gid};
}

std::optional<Account> current_account() {
  passwd* entry = getpwuid(geteuid());
  if (entry == nullptr) return std::nullopt;
  return Account{entry->pw_name, entry->pw_uid, entry->pw_gid};
}

// Runs `body` in a forked child; returns what it reported: "" on success, else the
// reason. The child never returns into the test runner.
std::string in_child(const std::function<std::string()>& body) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return "pipe2 failed";
  pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    close(fds[0]);
    std::string report = body();
    if (!report.empty()) (void)!write(fds[1], report.data(), report.size());
    _exit(report.empty() ? 0 : 1);
  }
  close(fds[1]);
  std::string report;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) report.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return "child died of signal " + std::to_string(WTERMSIG(status));
  if (WEXITSTATUS(status) != 0 && report.empty()) return "child failed without a reason";
  return report;
}

// What the process runs as now, checked against `uid`/`gid` with `gid` its only group.
std::string check_identity(uid_t uid, gid_t gid) {
  uid_t r, e, s;
  gid_t rg, eg, sg;
  getresuid(&r, &e, &s);
  getresgid(&rg, &eg, &sg);
  if (r != uid || e != uid || s != uid)
    return "uids " + std::to_string(r) + "/" + std::to_string(e) + "/" + std::to_string(s);
  if (rg != gid || eg != gid || sg != gid)
    return "gids " + std::to_string(rg) + "/" + std::to_string(eg) + "/" + std::to_string(sg);
  gid_t groups[4];
  int count = getgroups(4, groups);
  if (count != 1 || groups[0] != gid) return "supplementary groups not exactly {gid}";
  if (setuid(0) == 0 || seteuid(0) == 0) return "regained root";
  return "";
}

TEST(DropPrivilegesTest, EmptyUserDoesNothing) {
  uid_t uid = geteuid();
  gid_t gid = getegid();
  EXPECT_TRUE(drop_privileges("", "").ok());
  EXPECT_TRUE(drop_privileges("", "nogroup").ok());
  EXPECT_EQ(geteuid(), uid);
  EXPECT_EQ(getegid(), gid);
}

TEST(DropPrivilegesTest, UnknownUserIsNamed) {
  auto resolved = resolve_run_identity("arus-no-such-user", "");
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().message, "user 'arus-no-such-user': no such user");
  auto dropped = drop_privileges("arus-no-such-user", "");
  ASSERT_FALSE(dropped.ok());
  EXPECT_EQ(dropped.error().message, "user 'arus-no-such-user': no such user");
}

TEST(DropPrivilegesTest, UnknownGroupIsNamed) {
  auto me = current_account();
  if (!me) GTEST_SKIP() << "the current uid has no user database entry";
  auto resolved = resolve_run_identity(me->name, "arus-no-such-group");
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().message, "group 'arus-no-such-group': no such group");
  EXPECT_FALSE(drop_privileges(me->name, "arus-no-such-group").ok());
  EXPECT_EQ(geteuid(), me->uid);
}

TEST(DropPrivilegesTest, GroupDefaultsToTheUsersPrimaryGroup) {
  auto me = current_account();
  if (!me) GTEST_SKIP() << "the current uid has no user database entry";
  auto resolved = resolve_run_identity(me->name, "");
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->uid, me->uid);
  EXPECT_EQ(resolved->gid, me->gid);

  group* root_group = getgrgid(0);
  ASSERT_NE(root_group, nullptr);
  auto explicit_group = resolve_run_identity(me->name, root_group->gr_name);
  ASSERT_TRUE(explicit_group.ok()) << explicit_group.error().message;
  EXPECT_EQ(explicit_group->gid, 0u);
}

TEST(DropPrivilegesTest, RefusesToSwitchToRoot) {
  auto dropped = drop_privileges("root", "");
  ASSERT_FALSE(dropped.ok());
  EXPECT_NE(dropped.error().message.find("user 'root' (uid 0, gid 0)"), std::string::npos)
      << dropped.error().message;
  EXPECT_NE(dropped.error().message.find("leave user empty"), std::string::npos);
}

TEST(DropPrivilegesTest, AsRootSwitchesUserAndGroupForGood) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  auto nobody = account_named("nobody");
  if (!nobody) GTEST_SKIP() << "no user 'nobody'";
  std::string report = in_child([&] {
    auto dropped = drop_privileges("nobody", "");
    if (!dropped) return dropped.error().message;
    return check_identity(nobody->uid, nobody->gid);
  });
  EXPECT_EQ(report, "");
}

TEST(DropPrivilegesTest, AsRootUsesTheNamedGroup) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  auto nobody = account_named("nobody");
  group* daemon_group = getgrnam("daemon");
  if (!nobody || daemon_group == nullptr) GTEST_SKIP() << "no user 'nobody' or group 'daemon'";
  gid_t daemon_gid = daemon_group->gr_gid;
  std::string report = in_child([&] {
    auto dropped = drop_privileges("nobody", "daemon");
    if (!dropped) return dropped.error().message;
    return check_identity(nobody->uid, daemon_gid);
  });
  EXPECT_EQ(report, "");
}

TEST(DropPrivilegesTest, WithoutRootOnlyTheSameUserIsAccepted) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become an unprivileged user first";
  auto nobody = account_named("nobody");
  auto daemon_user = account_named("daemon");
  if (!nobody || !daemon_user) GTEST_SKIP() << "no user 'nobody' or 'daemon'";
  std::string report = in_child([&]() -> std::string {
    if (auto first = drop_privileges("nobody", ""); !first) return first.error().message;
    // Already that user and group: a restart under systemd's User= must still work.
    if (auto again = drop_privileges("nobody", ""); !again) return again.error().message;
    auto other = drop_privileges("daemon", "");
    if (other.ok()) return "switched users without root";
    const std::string& message = other.error().message;
    if (message.find("user 'daemon'") == std::string::npos ||
        message.find("only root can switch users") == std::string::npos) {
      return "unexpected error: " + message;
    }
    return check_identity(nobody->uid, nobody->gid);
  });
  EXPECT_EQ(report, "");
}

// A scratch folder tree under /tmp (sticky, root-owned), removed with everything in it.
class PluginDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/arus-privileges-XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr);
    root_ = path;
    ASSERT_EQ(chmod(root_.c_str(), 0755), 0);
    // The user the proxy would run as: another one when we are root (who owns the tree),
    // else ourselves, since the tree must belong to root or the run user.
    other_uid_ = geteuid() != 0 ? geteuid() : 65534;
  }
  void TearDown() override {
    std::string command = "chmod -R u+rwx '" + root_ + "' && rm -rf '" + root_ + "'";
    EXPECT_EQ(std::system(command.c_str()), 0);
  }
  std::string folder(const std::string& name, mode_t mode) {
    std::string path = root_ + "/" + name;
    EXPECT_EQ(mkdir(path.c_str(), 0700), 0) << path;
    EXPECT_EQ(chmod(path.c_str(), mode), 0) << path;  // chmod: not masked by the umask
    return path;
  }
  // "FOLDER: refused: WHAT is REASON (mode ...": the start of a refusal.
  static std::string refusal(const std::string& folder, const std::string& what,
                             const std::string& reason) {
    return folder + ": refused: " + what + " is " + reason + " (mode ";
  }

  std::string root_;
  uid_t other_uid_ = 0;
};

TEST_F(PluginDirTest, FolderNotWritableByTheRunUserIsAccepted) {
  std::string dir = folder("filters", 0755);
  auto checked = check_plugin_dir_safe(dir, other_uid_);
  EXPECT_TRUE(checked.ok()) << checked.error().message;
}

TEST_F(PluginDirTest, FolderWritableByEveryoneIsRefusedNamingIt) {
  std::string dir = folder("filters", 0777);
  auto checked = check_plugin_dir_safe(dir, other_uid_);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().message, refusal(dir, dir, "world-writable") + "0777, owner uid " +
                                         std::to_string(geteuid()) + ", group gid " +
                                         std::to_string(getegid()) + ")");
}

TEST_F(PluginDirTest, StickyFolderItselfIsStillRefused) {
  std::string dir = folder("filters", 01777);
  EXPECT_FALSE(check_plugin_dir_safe(dir, other_uid_).ok());
}

TEST_F(PluginDirTest, OwnersFolderIsAcceptedUnlessOthersMayWriteIt) {
  std::string dir = folder("filters", 0755);
  auto checked = check_plugin_dir_safe(dir, geteuid());
  EXPECT_TRUE(checked.ok()) << checked.error().message;
  ASSERT_EQ(chmod(dir.c_str(), 0757), 0);
  EXPECT_FALSE(check_plugin_dir_safe(dir, geteuid()).ok());
}

TEST_F(PluginDirTest, FolderOfAnotherUserIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give a folder to another user";
  std::string dir = folder("filters", 0755);
  ASSERT_EQ(chown(dir.c_str(), 12345, 0), 0);
  auto checked = check_plugin_dir_safe(dir, other_uid_);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().message.rfind(
                refusal(dir, dir, "owned by uid 12345, neither the proxy's user (uid " +
                                      std::to_string(other_uid_) + ") nor root"),
                0),
            0u)
      << checked.error().message;
}

TEST_F(PluginDirTest, WritableParentIsRefusedNamingTheParent) {
  std::string parent = folder("parent", 0777);
  std::string dir = folder("parent/filters", 0755);
  auto checked = check_plugin_dir_safe(dir, other_uid_);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().message.rfind(refusal(dir, parent, "world-writable"), 0), 0u)
      << checked.error().message;
}

TEST_F(PluginDirTest, StickyParentIsAccepted) {
  folder("shared", 01777);
  std::string dir = folder("shared/filters", 0755);
  auto checked = check_plugin_dir_safe(dir, other_uid_);
  EXPECT_TRUE(checked.ok()) << checked.error().message;
}

TEST_F(PluginDirTest, SymlinkInAWritableFolderIsRefused) {
  std::string target = folder("filters", 0755);
  std::string links = folder("links", 0777);
  ASSERT_EQ(symlink(target.c_str(), (links + "/filters").c_str()), 0);
  auto checked = check_plugin_dir_safe(links + "/filters", other_uid_);
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message.find(": refused: " + links + " is world-writable"),
            std::string::npos)
      << checked.error().message;
}

TEST_F(PluginDirTest, SymlinkToAWritableFolderIsRefused) {
  std::string target = folder("open", 0777);
  std::string links = folder("links", 0755);
  ASSERT_EQ(symlink(target.c_str(), (links + "/filters").c_str()), 0);
  auto checked = check_plugin_dir_safe(links + "/filters", other_uid_);
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message.find(": refused: " + target + " is world-writable"),
            std::string::npos)
      << checked.error().message;
}

TEST_F(PluginDirTest, MissingFolderIsNamed) {
  auto checked = check_plugin_dir_safe(root_ + "/absent", other_uid_);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().message, root_ + "/absent: No such file or directory");
}

TEST_F(PluginDirTest, ReadOnlyMountIsAcceptedWhateverItsMode) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount";
  std::string dir = folder("configmap", 0755);
  uid_t other = other_uid_;
  // In a private mount namespace of a child, so the mount never outlives the test.
  std::string report = in_child([&]() -> std::string {
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return "skip";
    }
    if (mount("tmpfs", dir.c_str(), "tmpfs", 0, "mode=0777") != 0) return "skip";
    if (check_plugin_dir_safe(dir, other).ok()) return "a writable 0777 mount was accepted";
    if (mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, "mode=0777") != 0) {
      return "skip";
    }
    auto checked = check_plugin_dir_safe(dir, other);
    return checked.ok() ? "" : checked.error().message;
  });
  if (report == "skip") GTEST_SKIP() << "cannot make a private mount namespace here";
  EXPECT_EQ(report, "");
}

// Any member of a group may plant code, and membership changes behind the proxy's back:
// group write is accepted only for root's group, whoever the run user is.
TEST_F(PluginDirTest, GroupWriteIsAcceptedOnlyForRootsGroup) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the folder another group";
  auto nobody = account_named("nobody");
  group* daemon_group = getgrnam("daemon");
  if (!nobody || daemon_group == nullptr) GTEST_SKIP() << "no user 'nobody' or group 'daemon'";
  std::string dir = folder("filters", 0775);
  for (gid_t gid : {nobody->gid, daemon_group->gr_gid}) {
    ASSERT_EQ(chown(dir.c_str(), 0, gid), 0);
    ASSERT_EQ(chmod(dir.c_str(), 0775), 0);
    auto checked = check_plugin_dir_safe(dir, nobody->uid);
    ASSERT_FALSE(checked.ok()) << "gid " << gid;
    EXPECT_EQ(checked.error().message.rfind(
                  refusal(dir, dir, "group-writable by gid " + std::to_string(gid) +
                                        " (only root's group, gid 0, may write)"),
                  0),
              0u)
        << checked.error().message;
  }
  ASSERT_EQ(chown(dir.c_str(), 0, 0), 0);
  ASSERT_EQ(chmod(dir.c_str(), 0775), 0);
  auto checked = check_plugin_dir_safe(dir, nobody->uid);
  EXPECT_TRUE(checked.ok()) << checked.error().message;
}

}  // namespace
}  // namespace arus
