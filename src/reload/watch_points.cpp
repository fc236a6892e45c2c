// Symlink walk for the configuration watcher: which folder entries a path depends on.
#include "arus/reload/watch_points.hpp"

#include <unistd.h>

#include <deque>
#include <string_view>

namespace arus {
namespace {

constexpr int kMaxHops = 40;  // the kernel's limit (MAXSYMLINKS) before ELOOP

// Components of `path`, empty ones and "." left out.
std::deque<std::string> components(std::string_view path) {
  std::deque<std::string> out;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (!part.empty() && part != ".") out.emplace_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// `folder` holds no symlink (every part of it was checked), so its ".." is lexical.
// "" is the working folder.
std::string parent_of(const std::string& folder) {
  if (folder.empty()) return "..";
  if (folder == "/") return "/";
  size_t slash = folder.rfind('/');
  std::string_view last = slash == std::string::npos ? std::string_view(folder)
                                                     : std::string_view(folder).substr(slash + 1);
  if (last == "..") return folder + "/..";
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : folder.substr(0, slash);
}

std::string join(const std::string& folder, const std::string& name) {
  if (folder.empty()) return name;
  return folder == "/" ? "/" + name : folder + "/" + name;
}

}  // namespace

std::vector<WatchPoint> watch_points(const std::string& path, const ReadLink& read_link) {
  std::vector<WatchPoint> points;
  std::deque<std::string> rest = components(path);
  std::string folder = path.starts_with('/') ? "/" : "";
  int hops = 0;
  while (!rest.empty()) {
    std::string name = std::move(rest.front());
    rest.pop_front();
    if (name == "..") {
      folder = parent_of(folder);
      continue;
    }
    std::string entry = join(folder, name);
    std::optional<std::string> target;
    if (hops < kMaxHops) target = read_link(entry);
    if (target || rest.empty()) {
      points.push_back(WatchPoint{folder.empty() ? "." : folder, name});
    }
    if (!target) {
      folder = std::move(entry);
      continue;
    }
    // The link's target replaces it: relative to the link's folder, or from the root.
    ++hops;
    std::deque<std::string> more = components(*target);
    rest.insert(rest.begin(), more.begin(), more.end());
    // assign(1, '/'), not = "/": g++ 12 at -O2 warns falsely (-Wrestrict) on the latter.
    if (target->starts_with('/')) folder.assign(1, '/');
  }
  return points;
}

std::string folder_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::optional<std::string> read_link(const std::string& path) {
  std::string target(256, '\0');
  for (;;) {
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n < 0) return std::nullopt;  // EINVAL: not a symlink; ENOENT: not there
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);  // possibly cut short: read again with more room
  }
}

}  // namespace arus
