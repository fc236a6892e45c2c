// Privilege drop and the plugin_dir safety check: user database look-ups (reentrant
// getpwnam_r/getgrnam_r), set*id calls, and stat() of a folder and its parents.
#include "arus/app/privileges.hpp"

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "arus/plugin/source_safety.hpp"

namespace arus {
namespace {

constexpr size_t kFirstBufferBytes = 1024;
constexpr size_t kMaxBufferBytes = 1 << 20;  // a user database entry larger is broken

std::string quoted(const std::string& name) { return "'" + name + "'"; }

std::string octal_mode(mode_t mode) {
  char buf[16];
  snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Runs one getpw*_r / getgr*_r call, `lookup(&entry, buffer, size, &result)`, with a
// buffer grown until the entry fits. Sets `found`; returns 0, or the errno value of a
// look-up that failed (not one that found nothing).
template <class Entry, class Lookup>
int lookup_entry(Lookup lookup, Entry& entry, std::vector<char>& buffer, bool& found) {
  buffer.resize(kFirstBufferBytes);
  for (;;) {
    Entry* result = nullptr;
    int rc = lookup(&entry, buffer.data(), buffer.size(), &result);
    if (rc == ERANGE && buffer.size() < kMaxBufferBytes) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (rc == EINTR) continue;
    found = result != nullptr;
    // "Not found" is reported as 0, ENOENT, ESRCH, EBADF or EPERM depending on the NSS
    // module (getpwnam_r(3)); all of them mean: no such entry.
    if (rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM) return 0;
    return rc;
  }
}

// "/a/b/c" -> "/", "/a", "/a/b": the folders above `path` (absolute), as written.
std::vector<std::string> parents_of(const std::string& path) {
  std::vector<std::string> parents;
  if (path.empty() || path == "/") return parents;
  parents.push_back("/");
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    if (slash + 1 == path.size()) break;  // a trailing slash ends the last component
    if (path[slash - 1] != '/') parents.push_back(path.substr(0, slash));
  }
  return parents;
}

}  // namespace

Result<RunIdentity> resolve_run_identity(const std::string& user, const std::string& group) {
  RunIdentity identity;
  std::vector<char> buffer;
  passwd user_entry;
  bool found = false;
  auto user_by_name = [&user](passwd* e, char* b, size_t n, passwd** r) {
    return getpwnam_r(user.c_str(), e, b, n, r);
  };
  int rc = lookup_entry(user_by_name, user_entry, buffer, found);
  if (rc != 0) return posix_error("user " + quoted(user) + ": cannot look up", rc);
  if (!found) return Error{"user " + quoted(user) + ": no such user"};
  identity.uid = user_entry.pw_uid;
  identity.gid = user_entry.pw_gid;
  if (group.empty()) return identity;

  struct group entry;  // `group` alone names the parameter here
  auto group_by_name = [&group](struct group* e, char* b, size_t n, struct group** r) {
    return getgrnam_r(group.c_str(), e, b, n, r);
  };
  rc = lookup_entry(group_by_name, entry, buffer, found);
  if (rc != 0) return posix_error("group " + quoted(group) + ": cannot look up", rc);
  if (!found) return Error{"group " + quoted(group) + ": no such group"};
  identity.gid = entry.gr_gid;
  return identity;
}

Result<void> drop_privileges(const std::string& user, const std::string& group) {
  if (user.empty()) return {};
  Result<RunIdentity> resolved = resolve_run_identity(user, group);
  if (!resolved) return std::move(resolved).error();
  const uid_t uid = resolved->uid;
  const gid_t gid = resolved->gid;
  // "user 'u' (uid 1, gid 2)" or "user 'u' (uid 1), group 'g' (gid 2)".
  std::string who = "user " + quoted(user) + " (uid " + std::to_string(uid);
  who += group.empty() ? ", " : "), group " + quoted(group) + " (";
  who += "gid " + std::to_string(gid) + ")";
  if (uid == 0) {
    return Error{who + ": refusing to switch to uid 0; leave user empty to run as root"};
  }

  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  getresuid(&ruid, &euid, &suid);
  getresgid(&rgid, &egid, &sgid);
  if (ruid == uid && euid == uid && suid == uid && rgid == gid && egid == gid && sgid == gid) {
    return {};  // started as that user already (e.g. by systemd's User=): nothing to drop
  }

  // Supplementary groups first (root's would survive setuid), then the group while we
  // may still change it, then the user, which gives up the right to change anything.
  const gid_t groups[1] = {gid};
  if (setgroups(1, groups) != 0) {
    int error = errno;
    Error failed = posix_error(who + ": setgroups", error);
    if (error == EPERM) {
      failed.message +=
          " (only root can switch users; the proxy runs as uid " + std::to_string(euid) + ")";
    }
    return failed;
  }
  if (setgid(gid) != 0) return posix_error(who + ": setgid(" + std::to_string(gid) + ")", errno);
  if (setuid(uid) != 0) return posix_error(who + ": setuid(" + std::to_string(uid) + ")", errno);

  // Trust but verify: the saved ids must have changed too, or root could come back.
  if (setuid(0) == 0) return Error{who + ": could regain root after setuid; refusing to run"};
  getresuid(&ruid, &euid, &suid);
  getresgid(&rgid, &egid, &sgid);
  if (ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid || sgid != gid) {
    return Error{who + ": ids did not change as asked (uid " + std::to_string(ruid) + "/" +
                 std::to_string(euid) + "/" + std::to_string(suid) + ", gid " +
                 std::to_string(rgid) + "/" + std::to_string(egid) + "/" + std::to_string(sgid) +
                 ")"};
  }
  gid_t now[2];
  int count = getgroups(2, now);
  if (count != 1 || now[0] != gid) {
    return Error{who + ": supplementary groups did not change as asked"};
  }
  return {};
}

Result<void> check_plugin_dir_safe(const std::string& plugin_dir, uid_t run_uid) {
  std::string given = plugin_dir.empty() ? "." : plugin_dir;
  if (given.front() != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == nullptr) return posix_error(plugin_dir + ": getcwd", errno);
    given = std::string(cwd) + (cwd[1] == '\0' ? "" : "/") + given;
  }
  char real_buf[PATH_MAX];
  if (realpath(given.c_str(), real_buf) == nullptr) return posix_error(plugin_dir, errno);
  const std::string real = real_buf;

  auto check = [&](const std::string& folder, const struct stat& st, bool is_parent) {
    std::string reason = unsafe_source_reason(folder, st, run_uid, is_parent);
    if (reason.empty()) return Result<void>();
    return Result<void>(Error{plugin_dir + ": refused: " + folder + " is " + reason + " (mode " +
                              octal_mode(st.st_mode) + ", owner uid " +
                              std::to_string(st.st_uid) + ", group gid " +
                              std::to_string(st.st_gid) + ")"});
  };

  struct stat st;
  if (stat(real.c_str(), &st) != 0) return posix_error(plugin_dir + ": " + real, errno);
  if (!S_ISDIR(st.st_mode)) return Error{plugin_dir + ": " + real + " is not a folder"};
  if (Result<void> checked = check(real, st, /*is_parent=*/false); !checked) return checked;

  // Whoever can rename an entry in a parent can swap the whole folder, so the parents
  // of the resolved path and of the path as written (a symlink such as a Kubernetes
  // ConfigMap's ..data can be repointed) are checked as well.
  std::vector<std::string> folders = parents_of(real);
  for (std::string& parent : parents_of(given)) folders.push_back(std::move(parent));
  for (const std::string& folder : folders) {
    if (lstat(folder.c_str(), &st) != 0) return posix_error(plugin_dir + ": " + folder, errno);
    if (!S_ISDIR(st.st_mode)) continue;  // a symlink: what matters is the folder holding it
    if (Result<void> checked = check(folder, st, /*is_parent=*/true); !checked) return checked;
  }
  return {};
}

}  // namespace arus
