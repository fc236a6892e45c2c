// Deciding which watched names matter for a reload.
#include "arus/reload/watch_interest.hpp"

#include <algorithm>

namespace arus {
namespace {

std::string folder_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool holds(const std::vector<WatchPoint>& points, std::string_view folder, std::string_view name) {
  return std::any_of(points.begin(), points.end(), [&](const WatchPoint& point) {
    return point.folder == folder && point.name == name;
  });
}

}  // namespace

WatchPoint file_watch_point(const std::string& path) {
  size_t slash = path.rfind('/');
  return WatchPoint{folder_of(path), slash == std::string::npos ? path : path.substr(slash + 1)};
}

std::vector<WatchPoint> config_watch_points(const std::string& config_path) {
  std::vector<WatchPoint> points{file_watch_point(config_path)};
  // A ConfigMap's proxy.conf is a link through "..data", swapped by a rename onto it.
  std::string folder = points.front().folder;
  for (const char* name : {"..data", "..data_tmp"}) points.push_back(WatchPoint{folder, name});
  return points;
}

std::vector<std::string> WatchInterest::folders() const {
  std::vector<std::string> out;
  for (const auto* points : {&config_, &filters_}) {
    for (const WatchPoint& point : *points) {
      if (std::find(out.begin(), out.end(), point.folder) == out.end()) {
        out.push_back(point.folder);
      }
    }
  }
  return out;
}

WatchChange WatchInterest::classify(std::string_view folder, std::string_view name) const {
  return WatchChange{holds(config_, folder, name), holds(filters_, folder, name)};
}

}  // namespace arus
