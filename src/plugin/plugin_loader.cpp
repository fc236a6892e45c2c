// load_filter: the checks on a filter file, its private copy, dlopen and the ABI check.
// Runs at load and reload time; every failure becomes an Error naming the file.
#include "arus/plugin/plugin_loader.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "arus/core/log.hpp"
#include "arus/plugin/source_safety.hpp"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U  // Linux 6.3+: the copy must stay mappable as code
#endif

namespace arus {
namespace {

std::string join_path(const std::string& dir, const std::string& file) {
  if (file.empty() || file.front() == '/' || dir.empty()) return file;
  return dir.back() == '/' ? dir + file : dir + "/" + file;
}

std::string proc_fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

Error refused(const std::string& display, const std::string& reason) {
  return Error{display + ": refused: " + reason};
}

bool is_inside(const std::string& dir, const std::string& path) {
  if (dir == "/") return path.size() > 1 && path.front() == '/';
  return path.size() > dir.size() + 1 && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

// The path the kernel has for an open file: checked instead of the name we opened, so a
// symlink swapped between the check and the open changes nothing.
Result<std::string> opened_path(int fd, const std::string& display) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(proc_fd_path(fd).c_str(), buf, sizeof buf - 1);
  if (n < 0) return posix_error(display + ": cannot resolve path", errno);
  return std::string(buf, static_cast<size_t>(n));
}

Result<void> check_file(int fd, const std::string& display, const std::string& dir_real,
                        uid_t run_uid, std::string* source_path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return posix_error(display + ": stat", errno);
  if (!S_ISREG(st.st_mode)) return refused(display, "not a regular file");
  Result<std::string> real = opened_path(fd, display);
  if (!real) return std::move(real).error();
  if (!is_inside(dir_real, *real)) {
    return refused(display, "outside plugin_dir (" + *real + " is not under " + dir_real + ")");
  }
  if (std::string reason = unsafe_source_reason(proc_fd_path(fd), st, run_uid); !reason.empty()) {
    return refused(display, reason);
  }
  *source_path = std::move(*real);
  return {};
}

struct CheckedFile {
  UniqueFd fd;
  std::string source_path;  // resolved
};

// Opens `display` (plugin_dir joined with the file name; opening runs no code) and checks
// the open file.
Result<CheckedFile> open_checked(const std::string& plugin_dir, const std::string& display,
                                 uid_t run_uid) {
  char dir_buf[PATH_MAX];
  if (::realpath(plugin_dir.empty() ? "." : plugin_dir.c_str(), dir_buf) == nullptr) {
    return posix_error(display + ": plugin_dir " + plugin_dir, errno);
  }
  // O_NONBLOCK: opening a FIFO planted in plugin_dir must not hang the reload.
  CheckedFile file{UniqueFd(::open(display.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)),
                   {}};
  if (!file.fd) return posix_error(display + ": cannot open", errno);
  if (Result<void> checked = check_file(file.fd.get(), display, dir_buf, run_uid,
                                        &file.source_path);
      !checked) {
    return std::move(checked).error();
  }
  return file;
}

// Copies the file into a sealed in-memory file. dlopen of that copy maps bytes nobody
// else can change, and each copy is a new inode at a new path, so dlopen cannot hand
// back an older version it has cached.
Result<UniqueFd> private_copy(int src_fd, const std::string& display,
                              const std::string& file_name) {
  std::string memfd_name = "arus-filter:" + file_name.substr(file_name.rfind('/') + 1);
  unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  int fd = ::memfd_create(memfd_name.c_str(), flags | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) fd = ::memfd_create(memfd_name.c_str(), flags);  // < 6.3
  if (fd < 0) return posix_error(display + ": private copy", errno);
  UniqueFd copy(fd);

  char buf[65536];
  off_t offset = 0;
  for (;;) {
    ssize_t n = ::pread(src_fd, buf, sizeof buf, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return posix_error(display + ": read", errno);
    if (n == 0) break;
    offset += n;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(copy.get(), buf + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return posix_error(display + ": private copy", errno);
      done += w;
    }
  }
  // Best effort: sealing only hardens the copy; a kernel without seals still works.
  (void)::fcntl(copy.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return copy;
}

const char* missing_function(const arus_filter_api& api) {
  if (api.create == nullptr) return "create";
  if (api.destroy == nullptr) return "destroy";
  if (api.open == nullptr) return "open";
  if (api.close == nullptr) return "close";
  if (api.transform == nullptr) return "transform";
  return nullptr;
}

}  // namespace

FilterPlugin::FilterPlugin(Passkey, std::string display_path, std::string source_path,
                           UniqueFd copy_fd, void* handle, const arus_filter_api* api) noexcept
    : display_path_(std::move(display_path)),
      source_path_(std::move(source_path)),
      copy_fd_(std::move(copy_fd)),
      handle_(handle),
      api_(api) {}

FilterPlugin::~FilterPlugin() {
  std::string path = proc_fd_path(copy_fd_.get());
  ::dlclose(handle_);
  // dlopen recognises a loaded object by the path it was opened with. If this one stays
  // mapped (NODELETE, or a dependency of something else), closing the copy would free
  // its fd number, a later copy could get the same "/proc/self/fd/N" and dlopen would
  // return this old code for it. Keep the descriptor in that rare case.
  if (void* still = ::dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD)) {
    ::dlclose(still);
    (void)copy_fd_.release();
    log::warn("filter stayed loaded after unload; keeping its private copy")
        .kv("filter", display_path_);
  }
}

Result<std::shared_ptr<const FilterPlugin>> load_filter(const std::string& plugin_dir,
                                                        const std::string& file_name) {
  const std::string display = join_path(plugin_dir, file_name);
  // Checked again here, as the user the proxy runs as, on the very file that is copied.
  Result<CheckedFile> file = open_checked(plugin_dir, display, ::geteuid());
  if (!file) return std::move(file).error();
  Result<UniqueFd> copy = private_copy(file->fd.get(), display, file_name);
  if (!copy) return std::move(copy).error();
  file->fd.reset();

  const std::string copy_path = proc_fd_path(copy->get());
  void* handle = ::dlopen(copy_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    std::string why = ::dlerror();
    // The linker names the copy; the operator knows the file.
    if (why.compare(0, copy_path.size() + 2, copy_path + ": ") == 0) {
      why.erase(0, copy_path.size() + 2);
    }
    return Error{display + ": cannot load: " + why};
  }
  // From here on the handle must be closed on every failure.
  struct HandleGuard {
    void* handle;
    ~HandleGuard() {
      if (handle != nullptr) ::dlclose(handle);
    }
  } guard{handle};

  (void)::dlerror();
  void* symbol = ::dlsym(handle, ARUS_FILTER_ENTRY_SYMBOL);
  if (symbol == nullptr) {
    return Error{display + ": missing entry point " ARUS_FILTER_ENTRY_SYMBOL};
  }
  auto entry = reinterpret_cast<arus_filter_entry_fn>(symbol);
  const arus_filter_api* api = entry();
  if (api == nullptr) {
    return Error{display + ": entry point " ARUS_FILTER_ENTRY_SYMBOL " returned no descriptor"};
  }
  if (api->abi_version != ARUS_FILTER_ABI_VERSION) {
    return Error{display + ": ABI version " + std::to_string(api->abi_version) + ", expected " +
                 std::to_string(ARUS_FILTER_ABI_VERSION)};
  }
  // Later versions only append fields, so a larger descriptor is fine.
  if (api->struct_size < sizeof(arus_filter_api)) {
    return Error{display + ": descriptor of " + std::to_string(api->struct_size) +
                 " bytes, expected at least " + std::to_string(sizeof(arus_filter_api))};
  }
  if (const char* missing = missing_function(*api)) {
    return Error{display + ": descriptor lacks the function " + missing};
  }
  if (api->name == nullptr) return Error{display + ": descriptor lacks a name"};

  guard.handle = nullptr;
  return std::make_shared<const FilterPlugin>(
      FilterPlugin::Passkey(), display, std::move(file->source_path), std::move(*copy), handle,
      api);
}

Result<void> check_filter_file(const std::string& plugin_dir, const std::string& file_name,
                               uid_t run_uid) {
  Result<CheckedFile> file =
      open_checked(plugin_dir, join_path(plugin_dir, file_name), run_uid);
  if (!file) return std::move(file).error();
  return {};
}

}  // namespace arus
