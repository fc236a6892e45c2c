// Privilege drop ([global] user and group): bind as root, then run as an unprivileged
// user for good; and the check that keeps filters out of folders that user could write.
// Start-up and reload code only (they read the user database and the file system).
#pragma once

#include <sys/types.h>

#include <string>

#include "arus/core/result.hpp"

namespace arus {

// A user and group as looked up in the user database.
struct RunIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Looks up `user` (getpwnam_r) and `group` (getgrnam_r; empty: the user's primary
// group). Names only, no numeric ids. Errors name the user or group that is unknown,
// e.g. "user 'arus': no such user" (the caller may prefix the file). Thread-safe.
Result<RunIdentity> resolve_run_identity(const std::string& user, const std::string& group);

// Switches the whole process to `user` and `group` (empty: the user's primary group) for
// good: setgroups to that one group, then setgid, then setuid (real, effective and saved
// ids), then checks that setuid(0) fails, so root cannot be regained. Does nothing when
// `user` is empty. Also does nothing when the process already runs as exactly that user
// and group without root. Refuses a user whose uid is 0 (leave `user` empty instead).
// Every error names the user (and the group when it is the group's fault); a failure
// after setgroups may leave the process half-switched, so the caller must exit on error.
// Call after every listener is bound and before any worker thread starts: glibc
// applies the ids to every thread, but nothing must run in between.
Result<void> drop_privileges(const std::string& user, const std::string& group);

// Refuses to load filters from `plugin_dir` when someone other than root and the user
// `run_uid` could change what is in it: the folder, and every folder above it, must meet
// unsafe_source_reason() (include/arus/plugin/source_safety.hpp): owned by root or that
// user, no write for others, group write only for root's group, except that a sticky
// parent (like /tmp) may be writable. The path as written and the path with symlinks
// resolved are both checked. Errors name the folder, the reason and the mode, e.g.
// "/srv/f: refused: /srv/f is world-writable (mode 0777, owner uid 0, group gid 0)"
// (the caller adds the file, line and key). Call before any filter is loaded, with the
// uid the proxy runs as, or will run as once privileges are dropped.
Result<void> check_plugin_dir_safe(const std::string& plugin_dir, uid_t run_uid);

}  // namespace arus
