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

std::string folder_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

Result<std::unique_ptr<ConfigWatcher>> ConfigWatcher::create(Reactor& reactor,
                                                             std::string config_path,
                                                             OnChange on_change) {
  UniqueFd fd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) return posix_error("inotify_init1", errno);
  std::unique_ptr<ConfigWatcher> watcher(
      new ConfigWatcher(reactor, std::move(fd), std::move(config_path), std::move(on_change)));
  std::string folder = folder_of(watcher->config_path_);
  Watch* watch = watcher->add_watch(folder);
  if (watch == nullptr) return posix_error("inotify_add_watch " + folder, errno);
  watch->config_folder = true;
  if (int error = reactor.add(watcher->inotify_fd_.get(), EPOLLIN | EPOLLET, watcher.get());
      error != 0) {
    return posix_error("epoll_ctl(inotify)", error);
  }
  return watcher;
}

ConfigWatcher::ConfigWatcher(Reactor& reactor, UniqueFd inotify_fd, std::string config_path,
                             OnChange on_change)
    : reactor_(reactor),
      inotify_fd_(std::move(inotify_fd)),
      config_path_(std::move(config_path)),
      config_name_(name_of(config_path_)),
      on_change_(std::move(on_change)) {}

ConfigWatcher::~ConfigWatcher() { reactor_.timers().cancel(*this); }

ConfigWatcher::Watch* ConfigWatcher::add_watch(const std::string& folder) {
  for (Watch& watch : watches_) {
    if (watch.folder == folder) return &watch;
  }
  int wd = inotify_add_watch(inotify_fd_.get(), folder.c_str(), kWatchMask);
  if (wd < 0) return nullptr;
  // inotify returns the same descriptor for a folder watched twice under two names.
  for (Watch& watch : watches_) {
    if (watch.wd == wd) return &watch;
  }
  watches_.push_back(Watch{wd, folder, false, {}});
  return &watches_.back();
}

void ConfigWatcher::watch_filters(const std::vector<std::string>& filter_paths) {
  for (Watch& watch : watches_) watch.filter_names.clear();
  for (const std::string& path : filter_paths) {
    Watch* watch = add_watch(folder_of(path));
    if (watch == nullptr) {
      log::warn("watch_failed").kv("path", path).kv("error", strerror(errno));
      continue;
    }
    watch->filter_names.push_back(name_of(path));
  }
  // Folders that no longer hold anything of interest stop being watched.
  std::erase_if(watches_, [this](const Watch& watch) {
    if (watch.config_folder || !watch.filter_names.empty()) return false;
    inotify_rm_watch(inotify_fd_.get(), watch.wd);
    return true;
  });
}

void ConfigWatcher::on_events(uint32_t) noexcept {
  alignas(inotify_event) char buffer[16 * 1024];
  for (;;) {
    ssize_t n = ::read(inotify_fd_.get(), buffer, sizeof buffer);
    if (n <= 0) break;  // EAGAIN: drained (edge-triggered)
    for (char* p = buffer; p < buffer + n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(p);
      if (event->mask & IN_Q_OVERFLOW) {
        pending_.config = pending_.filters = true;  // lost events: check everything
      } else if (event->len > 0) {
        for (const Watch& watch : watches_) {
          if (watch.wd == event->wd) note(watch, event->name);
        }
      }
      p += sizeof(inotify_event) + event->len;
    }
  }
  if (pending_.config || pending_.filters) {
    // Every new event pushes the deadline out: one reload per burst.
    reactor_.timers().schedule(*this, reactor_.now_ms() + kQuietPeriodMs);
  }
}

void ConfigWatcher::note(const Watch& watch, const char* name) noexcept {
  std::string_view file(name);
  // A ConfigMap swaps a "..data" symlink; the file itself is a symlink through it.
  if (watch.config_folder && (file == config_name_ || file.starts_with(".."))) {
    pending_.config = true;
  }
  if (std::find(watch.filter_names.begin(), watch.filter_names.end(), file) !=
      watch.filter_names.end()) {
    pending_.filters = true;
  }
}

void ConfigWatcher::on_timer() noexcept {
  Change change = pending_;
  pending_ = Change{};
  on_change_(change);
}

}  // namespace arus
