// Which folder entries decide what a path names: every symlink met while resolving it
// (each hop, in parent folders too) and the entry it finally names. A change to any of
// them can change the file behind the path. Pure logic over a readlink seam; stateless.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace arus {

// One folder entry: `name` inside `folder` ("." for the working folder).
struct WatchPoint {
  std::string folder;
  std::string name;
  bool operator==(const WatchPoint&) const = default;
};

// The target of the symlink at `path`, or nothing when `path` is not a symlink (or does
// not exist, or cannot be read).
using ReadLink = std::function<std::optional<std::string>(const std::string& path)>;

// Resolves `path` component by component, as the kernel does, and returns the entries
// met on the way that matter: every symlink, in the order met, then the final entry.
// Folders are as reached (relative when `path` is), ".." folded lexically once the part
// before it is free of symlinks. A missing component ends nothing: the rest is taken as
// written. After 40 symlinks (the kernel's ELOOP limit) the walk stops where it is.
std::vector<WatchPoint> watch_points(const std::string& path, const ReadLink& read_link);

// The folder part of `path` as written: "." when it has no '/', "/" for a root entry.
std::string folder_of(const std::string& path);

// readlink(2) on the real file system.
std::optional<std::string> read_link(const std::string& path);

}  // namespace arus
