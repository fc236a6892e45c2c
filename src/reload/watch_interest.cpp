// Deciding which watched names matter for a reload.
#include "arus/reload/watch_interest.hpp"

#include <algorithm>

namespace arus {
namespace {

bool holds(const std::vector<WatchPoint>& points, std::string_view folder, std::string_view name) {
  return std::any_of(points.begin(), points.end(), [&](const WatchPoint& point) {
    return point.folder == folder && point.name == name;
  });
}

}  // namespace

std::vector<WatchPoint> config_watch_points(const std::string& config_path,
                                            const ReadLink& read_link) {
  std::vector<WatchPoint> points = watch_points(config_path, read_link);
  // The walk finds "..data" already when the file is a ConfigMap's link; named here too so
  // an update is seen even while the link is briefly missing or not yet followed.
  std::string folder = folder_of(config_path);
  for (const char* name : {"..data", "..data_tmp"}) {
    WatchPoint point{folder, name};
    if (std::find(points.begin(), points.end(), point) == points.end()) points.push_back(point);
  }
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
