// The ownership and mode rule for filter files and the folders holding them.
#include "arus/plugin/source_safety.hpp"

#include <sys/statvfs.h>

namespace arus {

std::string unsafe_source_reason(const std::string& path, const struct stat& st, uid_t run_uid,
                                 bool is_parent) {
  const bool sticky = is_parent && (st.st_mode & S_ISVTX);
  std::string reason;
  if (st.st_uid != 0 && st.st_uid != run_uid) {
    reason = "owned by uid " + std::to_string(st.st_uid) + ", neither the proxy's user (uid " +
             std::to_string(run_uid) + ") nor root";
  } else if ((st.st_mode & S_IWOTH) && !sticky) {
    reason = "world-writable";
  } else if ((st.st_mode & S_IWGRP) && st.st_gid != 0 && !sticky) {
    // Whether the run user is in that group is no comfort: any member could plant code
    // the proxy runs, and membership can change without the proxy knowing.
    reason = "group-writable by gid " + std::to_string(st.st_gid) +
             " (only root's group, gid 0, may write)";
  }
  if (reason.empty()) return reason;
  struct statvfs fs;
  if (::statvfs(path.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY)) return "";
  return reason;
}

}  // namespace arus
