// ConfigWatcher: inotify on every folder holding an entry the configuration path or a
// loaded filter file depends on (the file itself, each symlink on the way to it, a
// Kubernetes ConfigMap's "..data"), so every way a file gets replaced counts: a save by
// rename, an in-place rewrite, a symlink swap. Only events on those entries start or
// extend the quiet period that coalesces a burst; other files in the same folders do
// not. The paths are resolved again after each such event. Reactor thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "arus/core/result.hpp"
#include "arus/core/unique_fd.hpp"
#include "arus/reactor/reactor.hpp"
#include "arus/reload/watch_interest.hpp"

namespace arus {

class ConfigWatcher final : public EventHandler, public Timer {
 public:
  using Change = WatchChange;  // what changed since the last callback
  using OnChange = std::function<void(Change)>;

  static constexpr uint64_t kQuietPeriodMs = 150;

  // Watches the entries `config_path` depends on; fails when the folder of the path as
  // given cannot be watched. Relative paths are taken from the working folder.
  // `quiet_period_ms`: how long after the last event of interest `on_change` runs (tests
  // shorten it).
  static Result<std::unique_ptr<ConfigWatcher>> create(Reactor& reactor, std::string config_path,
                                                       OnChange on_change,
                                                       uint64_t quiet_period_ms = kQuietPeriodMs);
  ~ConfigWatcher() override;

  // Watches exactly these filter files (resolved paths) from now on.
  void watch_filters(std::vector<std::string> filter_paths);

  void on_events(uint32_t events) noexcept override;
  void on_timer() noexcept override;

 private:
  // One inotify watch. inotify keys watches by inode, so two folder names of one folder
  // (one through a symlink) share a descriptor: each keeps its name for classify().
  struct Watch {
    int wd = -1;
    std::vector<std::string> folders;
  };
  using Failures = std::vector<std::pair<std::string, int>>;  // folder, errno

  ConfigWatcher(Reactor& reactor, UniqueFd inotify_fd, std::string config_path,
                OnChange on_change, uint64_t quiet_period_ms);
  // Resolves the paths again and watches exactly the folders they need now; returns the
  // folders that could not be watched.
  Failures refresh();
  // Logs folders that could not be watched, each once until it can be again.
  void report(const Failures& failures);
  Watch* find(int wd);

  Reactor& reactor_;
  UniqueFd inotify_fd_;
  std::string config_path_;  // as given to -c
  std::vector<std::string> filter_paths_;
  OnChange on_change_;
  uint64_t quiet_period_ms_;
  WatchInterest interest_;
  std::vector<Watch> watches_;
  std::vector<std::string> unwatchable_;  // folders reported by report(), not yet watched
  Change pending_;
};

}  // namespace arus
