// ConfigWatcher: inotify on the configuration file's folder (and on the folders of the
// loaded filter files), so every way a file gets replaced counts: a save by rename, an
// in-place rewrite, a Kubernetes ConfigMap's "..data" symlink swap. Bursts of events are
// coalesced by a quiet period before the callback runs. Reactor thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "arus/core/result.hpp"
#include "arus/core/unique_fd.hpp"
#include "arus/reactor/reactor.hpp"

namespace arus {

class ConfigWatcher final : public EventHandler, public Timer {
 public:
  // What changed since the last callback.
  struct Change {
    bool config = false;   // the config file (or a ConfigMap "..data" swap) changed
    bool filters = false;  // a loaded filter file changed
  };
  using OnChange = std::function<void(Change)>;

  static constexpr uint64_t kQuietPeriodMs = 150;

  // Watches the folder of `config_path` (as given, symlinks not resolved).
  static Result<std::unique_ptr<ConfigWatcher>> create(Reactor& reactor, std::string config_path,
                                                       OnChange on_change);
  ~ConfigWatcher() override;

  // Watches exactly these filter files (resolved paths) from now on.
  void watch_filters(const std::vector<std::string>& filter_paths);

  void on_events(uint32_t events) noexcept override;
  void on_timer() noexcept override;

 private:
  struct Watch {
    int wd = -1;
    std::string folder;
    bool config_folder = false;
    std::vector<std::string> filter_names;  // file names in this folder that are filters
  };

  ConfigWatcher(Reactor& reactor, UniqueFd inotify_fd, std::string config_path,
                OnChange on_change);
  Watch* add_watch(const std::string& folder);
  void note(const Watch& watch, const char* name) noexcept;

  Reactor& reactor_;
  UniqueFd inotify_fd_;
  std::string config_path_;
  std::string config_name_;  // the file name part of config_path_
  OnChange on_change_;
  std::vector<Watch> watches_;
  Change pending_;
};

}  // namespace arus
