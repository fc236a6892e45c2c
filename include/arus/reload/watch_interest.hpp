// Which file events call for a reload: the folder entries the configuration path and the
// loaded filter files depend on (see watch_points.hpp). Any other name in a watched
// folder, such as a log file written next to proxy.conf, is none of our business and
// must not postpone a reload. Plain data, no kernel; one owner (the watcher's thread).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "arus/reload/watch_points.hpp"

namespace arus {

// What a file event means; merged over a burst of events.
struct WatchChange {
  bool config = false;   // the configuration file, or an entry on its way, changed
  bool filters = false;  // a loaded filter file, or an entry on its way, changed
  bool any() const noexcept { return config || filters; }
  WatchChange& operator|=(WatchChange other) noexcept {
    config = config || other.config;
    filters = filters || other.filters;
    return *this;
  }
};

// The configuration's entries: its symlink walk, plus the names a Kubernetes ConfigMap
// update renames in the folder of the path as given ("..data_tmp" onto "..data").
std::vector<WatchPoint> config_watch_points(const std::string& config_path,
                                            const ReadLink& read_link);

class WatchInterest {
 public:
  void set_config(std::vector<WatchPoint> points) { config_ = std::move(points); }
  void set_filters(std::vector<WatchPoint> points) { filters_ = std::move(points); }

  // Every folder holding an entry of interest, each once, the configuration's first.
  std::vector<std::string> folders() const;

  // The meaning of an event on `name` inside `folder` (a string folders() returned).
  WatchChange classify(std::string_view folder, std::string_view name) const;

 private:
  std::vector<WatchPoint> config_;
  std::vector<WatchPoint> filters_;
};

}  // namespace arus
