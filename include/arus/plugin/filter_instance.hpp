// FilterInstance: a loaded filter configured for one route (its create(filter_args)
// state). Immutable after creation and shared by every connection of the route through
// std::shared_ptr<const FilterInstance>, so destroy() runs, on whichever thread drops the
// last reference, only after the last connection using it has closed.
#pragma once

#include <memory>
#include <string>

#include "arus/core/result.hpp"
#include "arus/plugin/plugin_loader.hpp"

namespace arus {

class FilterInstance {
 public:
  struct Passkey {
   private:
    Passkey() = default;
    friend class FilterInstance;
  };

  // Calls the filter's create(args). On failure the Error reads
  // "<plugin_dir>/<file>: filter_args \"<args>\": <the filter's message>".
  // Runs filter code that may allocate or parse: load and reload time only.
  static Result<std::shared_ptr<const FilterInstance>> create(
      std::shared_ptr<const FilterPlugin> plugin, const std::string& args);

  FilterInstance(Passkey, std::shared_ptr<const FilterPlugin> plugin, std::string args,
                 void* route_state) noexcept;
  ~FilterInstance();  // the filter's destroy(route_state)
  FilterInstance(const FilterInstance&) = delete;
  FilterInstance& operator=(const FilterInstance&) = delete;

  const FilterPlugin& plugin() const noexcept { return *plugin_; }
  const arus_filter_api& api() const noexcept { return plugin_->api(); }
  const std::string& args() const noexcept { return args_; }
  // Opaque to the host; handed to the filter's open(). The filter treats it as read-only
  // (filter.h, "Threading"), which is why a const instance may give it out.
  void* route_state() const noexcept { return route_state_; }

 private:
  std::shared_ptr<const FilterPlugin> plugin_;  // keeps the code mapped until destroy ran
  std::string args_;
  void* route_state_;
};

using FilterInstancePtr = std::shared_ptr<const FilterInstance>;

}  // namespace arus
