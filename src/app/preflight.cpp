// Checks before filters load: the run identity and the safety of the filter sources,
// with each error placed at its configuration key.
#include "arus/app/preflight.hpp"

#include <unistd.h>

#include "arus/config/config_error.hpp"
#include "arus/plugin/plugin_loader.hpp"
#include "arus/runtime/snapshot_builder.hpp"

namespace arus {

Result<RunIdentity> configured_identity(const Config& config) {
  const GlobalConfig& global = config.global;
  if (global.user.empty()) return RunIdentity{geteuid(), getegid()};
  // The user alone first, so an error can name the key at fault.
  Result<RunIdentity> user = resolve_run_identity(global.user, "");
  if (!user) return global_key_error(config, "user", user.error().message);
  if (global.group.empty()) return user;
  Result<RunIdentity> both = resolve_run_identity(global.user, global.group);
  if (!both) return global_key_error(config, "group", both.error().message);
  return both;
}

Result<void> check_filter_sources(const Config& config, uid_t run_uid) {
  const RouteConfig* first = nullptr;
  for (const RouteConfig& route : config.routes) {
    if (!route.filter.empty()) {
      first = &route;
      break;
    }
  }
  if (first == nullptr) return {};
  const GlobalConfig& global = config.global;
  if (Result<void> folder = check_plugin_dir_safe(global.plugin_dir, run_uid); !folder) {
    if (global.key_lines.count("plugin_dir") != 0) {
      return global_key_error(config, "plugin_dir", folder.error().message);
    }
    // Left at its default: the first filter is what makes the folder matter.
    return route_key_error(config, *first, "filter", "plugin_dir " + folder.error().message);
  }
  for (const RouteConfig& route : config.routes) {
    if (route.filter.empty()) continue;
    if (Result<void> file = check_filter_file(global.plugin_dir, route.filter, run_uid); !file) {
      return route_key_error(config, route, "filter", file.error().message);
    }
  }
  return {};
}

Result<void> become_run_user(const Config& config) {
  Result<void> dropped = drop_privileges(config.global.user, config.global.group);
  if (!dropped) return global_key_error(config, "user", dropped.error().message);
  return {};
}

Result<size_t> test_configuration(const ConfigPtr& config) {
  auto identity = configured_identity(*config);
  if (!identity) return std::move(identity).error();
  if (auto safe = check_filter_sources(*config, identity->uid); !safe) {
    return std::move(safe).error();
  }
  if (geteuid() == 0) {
    if (auto dropped = become_run_user(*config); !dropped) return std::move(dropped).error();
  }
  auto snapshot = build_snapshot(config);
  if (!snapshot) return std::move(snapshot).error();
  return (*snapshot)->routes.size();
}

}  // namespace arus
