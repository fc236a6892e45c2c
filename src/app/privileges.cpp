// Privilege drop and the plugin_dir safety check: user database look-ups (reentrant
// getpwnam_r/getgrnam_r), set*id calls, and stat() of a folder and its parents.
#include "arus/app/privileges.hpp"

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

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

// The groups whose write bits apply to `uid`: the account's primary and supplementary
// groups, and this process's own when `uid` is the process's effective user.
std::vector<gid_t> groups_of(uid_t uid) {
  std::vector<gid_t> groups;
  passwd entry;
  std::vector<char> buffer;
  bool found = false;
  int rc = lookup_entry(
      [uid](passwd* e, char* b, size_t n, passwd** r) { return getpwuid_r(uid, e, b, n, r); },
      entry, buffer, found);
  if (rc == 0 && found) {
    int count = 32;
    std::vector<gid_t> list(static_cast<size_t>(count));
    while (getgrouplist(entry.pw_name, entry.pw_gid, list.data(), &count) < 0 &&
           static_cast<size_t>(count) > list.size()) {
      list.resize(static_cast<size_t>(count));
    }
    list.resize(std::min(list.size(), static_cast<size_t>(std::max(count, 0))));
    groups.insert(groups.end(), list.begin(), list.end());
    groups.push_back(entry.pw_gid);
  }
  if (uid == geteuid()) {
    groups.push_back(getegid());
    int count = getgroups(0, nullptr);
    if (count > 0) {
      std::vector<gid_t> list(static_cast<size_t>(count));
      count = getgroups(count, list.data());
      if (count > 0) groups.insert(groups.end(), list.begin(), list.begin() + count);
    }
  }
  return groups;
}

// Whether the mode bits let `uid` (with `groups`) change the entries of `folder` (whose
// stat is `st`), leaving aside a folder the user owns (its own files), for a parent
// folder the sticky bit (only an entry's owner may rename or remove it there), and a
// read-only mount (a Kubernetes ConfigMap volume shows mode 0777 but is read-only).
bool writable_by_other_than_owner(const std::string& folder, const struct stat& st, uid_t uid,
                                  const std::vector<gid_t>& groups, bool is_parent) {
  if (st.st_uid == uid) return false;
  if (is_parent && (st.st_mode & S_ISVTX)) return false;
  if (!(st.st_mode & (S_IWOTH | S_IWGRP))) return false;
  struct statvfs fs;
  if (statvfs(folder.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY)) return false;
  if (st.st_mode & S_IWOTH) return true;
  if (st.st_mode & S_IWGRP) {
    return std::find(groups.begin(), groups.end(), st.st_gid) != groups.end();
  }
  return false;
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
  const std::string display = "plugin_dir " + plugin_dir;
  std::string given = plugin_dir.empty() ? "." : plugin_dir;
  if (given.front() != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == nullptr) return posix_error(display + ": getcwd", errno);
    given = std::string(cwd) + (cwd[1] == '\0' ? "" : "/") + given;
  }
  char real_buf[PATH_MAX];
  if (realpath(given.c_str(), real_buf) == nullptr) return posix_error(display, errno);
  const std::string real = real_buf;

  const std::vector<gid_t> groups = groups_of(run_uid);
  auto refuse = [&](const std::string& folder, const struct stat& st) {
    return Error{display + ": refused: " + folder + " is writable by uid " +
                 std::to_string(run_uid) + " (mode " + octal_mode(st.st_mode) + ", owner uid " +
                 std::to_string(st.st_uid) + ", group gid " + std::to_string(st.st_gid) +
                 "): a filter folder and the folders above it must not be writable by the "
                 "user the proxy runs as, unless that user owns them"};
  };

  struct stat st;
  if (stat(real.c_str(), &st) != 0) return posix_error(display + ": " + real, errno);
  if (!S_ISDIR(st.st_mode)) return Error{display + ": " + real + " is not a folder"};
  if (writable_by_other_than_owner(real, st, run_uid, groups, /*is_parent=*/false)) {
    return refuse(real, st);
  }

  // Whoever can rename an entry in a parent can swap the whole folder, so the parents
  // of the resolved path and of the path as written (a symlink such as a Kubernetes
  // ConfigMap's ..data can be repointed) are checked as well.
  std::vector<std::string> folders = parents_of(real);
  for (std::string& parent : parents_of(given)) folders.push_back(std::move(parent));
  for (const std::string& folder : folders) {
    if (lstat(folder.c_str(), &st) != 0) return posix_error(display + ": " + folder, errno);
    if (!S_ISDIR(st.st_mode)) continue;  // a symlink: what matters is the folder holding it
    if (writable_by_other_than_owner(folder, st, run_uid, groups, /*is_parent=*/true)) {
      return refuse(folder, st);
    }
  }
  return {};
}

}  // namespace arus
