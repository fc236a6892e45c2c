// Who may change filter code: the rule a filter file, plugin_dir and the folders above it
// must meet before the proxy loads code from them. Stateless; safe from any thread.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

namespace arus {

// Filters run inside the proxy, so only root and the user the proxy runs as (`run_uid`)
// may be able to change them. Returns why someone else could change the file or folder
// `st` describes, or "" when nobody else can:
//   "owned by uid N, neither the proxy's user (uid M) nor root"
//   "world-writable"
//   "group-writable by gid G (only root's group, gid 0, may write)"
// `is_parent`: `st` is a folder above plugin_dir; with the sticky bit (like /tmp) only an
// entry's owner may rename or remove it there, so its group and other write bits do not
// count. Something on a read-only mount (a Kubernetes ConfigMap volume shows mode 0777)
// cannot change at all: `path` (what `st` describes; "/proc/self/fd/N" works) is
// consulted for that. Capabilities are ignored: only the mode bits count.
std::string unsafe_source_reason(const std::string& path, const struct stat& st, uid_t run_uid,
                                 bool is_parent = false);

}  // namespace arus
