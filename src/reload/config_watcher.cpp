// inotify watches, event filtering and coalescing for reloads.
#include "arus/reload/config_watcher.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "arus/core/log.hpp"

namespace arus {
namespace {

// Everything that can leave a different file behind a name: writes, renames onto it,
// creation (editors that write a new file), deletion and permission changes.
constexpr uint32_t kWatchMask = IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM |
                                IN_CREATE | IN_DELETE | IN_ATTRIB;

}  // namespace

Result<std::unique_ptr<ConfigWatcher>> ConfigWatcher::create(Reactor& reactor,
                                                             std::string config_path,
                                                             OnChange on_change,
                                                             uint64_t quiet_period_ms) {
  UniqueFd fd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) return posix_error("inotify_init1", errno);
  std::unique_ptr<ConfigWatcher> watcher(
      new ConfigWatcher(reactor, std::move(fd), std::move(config_path), std::move(on_change),
                        quiet_period_ms));
  Failures failures = watcher->refresh();
  // The folder of the path as given holds the file or its first link: without it, no
  // change would ever be seen. Other folders on the way may come and go.
  std::string folder = folder_of(watcher->config_path_);
  for (const auto& [failed, error] : failures) {
    if (failed == folder) return posix_error("inotify_add_watch " + folder, error);
  }
  watcher->report(failures);
  if (int error = reactor.add(watcher->inotify_fd_.get(), EPOLLIN | EPOLLET, watcher.get());
      error != 0) {
    return posix_error("epoll_ctl(inotify)", error);
  }
  return watcher;
}

ConfigWatcher::ConfigWatcher(Reactor& reactor, UniqueFd inotify_fd, std::string config_path,
                             OnChange on_change, uint64_t quiet_period_ms)
    : reactor_(reactor),
      inotify_fd_(std::move(inotify_fd)),
      config_path_(std::move(config_path)),
      on_change_(std::move(on_change)),
      quiet_period_ms_(quiet_period_ms) {}

ConfigWatcher::~ConfigWatcher() { reactor_.timers().cancel(*this); }

ConfigWatcher::Watch* ConfigWatcher::find(int wd) {
  auto it = std::find_if(watches_.begin(), watches_.end(),
                         [wd](const Watch& watch) { return watch.wd == wd; });
  return it == watches_.end() ? nullptr : &*it;
}

ConfigWatcher::Failures ConfigWatcher::refresh() {
  interest_.set_config(config_watch_points(config_path_, read_link));
  std::vector<WatchPoint> filter_points;
  for (const std::string& path : filter_paths_) {
    std::vector<WatchPoint> points = watch_points(path, read_link);
    filter_points.insert(filter_points.end(), points.begin(), points.end());
  }
  interest_.set_filters(std::move(filter_points));

  // Added again even when watched already: a folder name may now lead to another folder
  // (a swapped symlink), and inotify answers with that folder's descriptor.
  Failures failures;
  std::vector<Watch> next;
  for (const std::string& folder : interest_.folders()) {
    int wd = inotify_add_watch(inotify_fd_.get(), folder.c_str(), kWatchMask);
    if (wd < 0) {
      failures.emplace_back(folder, errno);
      continue;
    }
    auto same =
        std::find_if(next.begin(), next.end(), [wd](const Watch& watch) { return watch.wd == wd; });
    if (same != next.end()) {
      same->folders.push_back(folder);
    } else {
      next.push_back(Watch{wd, {folder}});
    }
  }
  for (const Watch& old : watches_) {
    bool kept = std::any_of(next.begin(), next.end(),
                            [&old](const Watch& watch) { return watch.wd == old.wd; });
    if (!kept) inotify_rm_watch(inotify_fd_.get(), old.wd);  // EINVAL if already gone: fine
  }
  watches_ = std::move(next);
  return failures;
}

void ConfigWatcher::report(const Failures& failures) {
  std::vector<std::string> now;
  for (const auto& [folder, error] : failures) {
    if (std::find(unwatchable_.begin(), unwatchable_.end(), folder) == unwatchable_.end()) {
      log::warn("watch_failed").kv("path", folder).kv("error", strerror(error));
    }
    now.push_back(folder);
  }
  unwatchable_ = std::move(now);
}

void ConfigWatcher::watch_filters(std::vector<std::string> filter_paths) {
  filter_paths_ = std::move(filter_paths);
  report(refresh());
}

void ConfigWatcher::on_events(uint32_t) noexcept {
  alignas(inotify_event) char buffer[16 * 1024];
  Change seen;         // what this wake-up's events mean
  bool stale = false;  // a watched folder went away: watch what is there now
  for (;;) {
    ssize_t n = ::read(inotify_fd_.get(), buffer, sizeof buffer);
    if (n <= 0) break;  // EAGAIN: drained (edge-triggered)
    for (char* p = buffer; p < buffer + n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(p);
      p += sizeof(inotify_event) + event->len;
      if (event->mask & IN_Q_OVERFLOW) {
        seen.config = seen.filters = true;  // lost events: check everything
        continue;
      }
      Watch* watch = find(event->wd);
      if (watch == nullptr) continue;  // a watch refresh() removed; its events trail behind
      if (event->mask & IN_IGNORED) {
        std::erase_if(watches_, [wd = event->wd](const Watch& w) { return w.wd == wd; });
        stale = true;
        continue;
      }
      if (event->len == 0) continue;  // about the folder itself
      for (const std::string& folder : watch->folders) {
        seen |= interest_.classify(folder, event->name);
      }
    }
  }
  // A symlink on the way may have been swapped: follow the paths again.
  if (seen.any() || stale) report(refresh());
  if (!seen.any()) return;  // other files in the folders: no reason to wait any longer
  pending_ |= seen;
  // Each event of interest pushes the deadline out: one reload per burst.
  reactor_.timers().schedule(*this, reactor_.now_ms() + quiet_period_ms_);
}

void ConfigWatcher::on_timer() noexcept {
  Change change = pending_;
  pending_ = Change{};
  on_change_(change);
}

}  // namespace arus
