// Loading a C filter file (include/arus/filter.h): path and permission checks, a private
// copy, dlopen, ABI check. FilterPlugin is immutable once loaded and safe to share
// between threads; it is unloaded (dlclose) when its last shared_ptr goes away.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "arus/core/result.hpp"
#include "arus/core/unique_fd.hpp"
#include "arus/filter.h"

namespace arus {

class FilterPlugin;
Result<std::shared_ptr<const FilterPlugin>> load_filter(const std::string& plugin_dir,
                                                        const std::string& file_name);

// One loaded filter file. Routes and connections keep it alive through
// FilterInstance (include/arus/plugin/filter_instance.hpp), so the code stays mapped while
// any connection still runs it.
class FilterPlugin {
 public:
  struct Passkey {  // only load_filter() constructs one
   private:
    Passkey() = default;
    friend Result<std::shared_ptr<const FilterPlugin>> load_filter(const std::string&,
                                                                   const std::string&);
  };
  FilterPlugin(Passkey, std::string display_path, std::string source_path, UniqueFd copy_fd,
               void* handle, const arus_filter_api* api) noexcept;
  ~FilterPlugin();
  FilterPlugin(const FilterPlugin&) = delete;
  FilterPlugin& operator=(const FilterPlugin&) = delete;

  // The path as the configuration names it (plugin_dir joined with the file name): what
  // log lines and errors show, e.g. "c_plugins/filter.so".
  const std::string& display_path() const noexcept { return display_path_; }
  // The resolved path of the file that was copied, for watching it (reload).
  const std::string& source_path() const noexcept { return source_path_; }
  // The filter's own short name from its descriptor.
  const char* name() const noexcept { return api_->name; }
  // The function table; valid as long as this object lives.
  const arus_filter_api& api() const noexcept { return *api_; }

 private:
  std::string display_path_;
  std::string source_path_;
  UniqueFd copy_fd_;  // the private copy dlopen mapped; see the destructor
  void* handle_;
  const arus_filter_api* api_;
};

// Loads `file_name` from `plugin_dir`. Refuses, with "<plugin_dir>/<file_name>: <reason>":
// a file that cannot be opened, one whose resolved path is outside plugin_dir (also via
// symlinks or ".."), one that is not a regular file, or that someone other than root and
// the effective user could change (unsafe_source_reason(), plugin/source_safety.hpp);
// a file dlopen rejects; a missing entry point
// (arus_filter_entry), another ABI version, a descriptor too small or with a missing
// function. The bytes are copied to a private in-memory file first and that copy is
// loaded, so replacing or rewriting the original never touches running code, and
// loading a path again after the file changed loads the new code.
// Blocks on the file system and the dynamic linker: call at load or reload time, never
// on a worker. Thread-safe.
Result<std::shared_ptr<const FilterPlugin>> load_filter(const std::string& plugin_dir,
                                                        const std::string& file_name);

// The checks load_filter makes on the file before it copies it, with the same errors,
// but against `run_uid` (the user the proxy runs as, or will once privileges are
// dropped) and loading nothing: opening the file runs no code. For checking every filter
// before the first one is loaded, and for -t. Thread-safe.
Result<void> check_filter_file(const std::string& plugin_dir, const std::string& file_name,
                               uid_t run_uid);

}  // namespace arus
