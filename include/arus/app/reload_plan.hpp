// The reload plan: what applying a new configuration to a running one would change, and
// how many open connections stay on the old generation (SPEC "Admin API and reload plan",
// "Admin JSON"). Answered by POST /reload and its dry run, and by `-t -c NEW --diff OLD`.
// A pure function of its inputs; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "arus/config/config.hpp"

namespace arus {

struct ReloadPlan {
  struct RouteChange {
    std::string name;
    std::vector<std::string> keys;  // keys whose written values differ, sorted
  };
  struct RouteItem {
    std::string route;
    std::string value;  // a backend "HOST:PORT" or a filter file, as written
    friend bool operator==(const RouteItem&, const RouteItem&) = default;
  };

  std::vector<std::string> routes_added;  // by name, in file order
  std::vector<std::string> routes_removed;
  std::vector<RouteChange> routes_changed;
  // Route listen addresses as written, compared after resolution (as the reload binds).
  std::vector<std::string> listeners_bound;
  std::vector<std::string> listeners_kept;
  std::vector<std::string> listeners_closed;
  // Backends by route and name: a reweighted backend is a changed `backend` key only.
  std::vector<RouteItem> backends_added;
  std::vector<RouteItem> backends_removed;
  // loaded: a route gains a filter; unloaded: it loses one (or the route goes);
  // swapped: another file, plugin_dir or filter_args for a route that keeps a filter.
  std::vector<RouteItem> filters_loaded;
  std::vector<RouteItem> filters_swapped;
  std::vector<RouteItem> filters_unloaded;
  std::vector<std::string> global_changed;  // [global] keys whose written values differ
  std::vector<std::string> restart_needed;  // of those, the ones a reload cannot apply
  // Every running route given a live count: all its open connections finish on the
  // generation they started with.
  std::vector<std::pair<std::string, uint64_t>> connections_staying_on_old_generation;

  // True when applying it would change anything (kept listeners and staying connections
  // are not changes).
  bool changes_anything() const noexcept;
};

// Open client connections per running route, by name.
using LiveConnections = std::map<std::string, uint64_t, std::less<>>;

ReloadPlan plan_reload(const Config& running, const Config& next, const LiveConnections& live);

// The [global] keys that apply only at the next start (workers, user, group) whose values
// differ: what a reload warns about and the plan lists as restart_needed.
std::vector<std::string> restart_only_changes(const GlobalConfig& running,
                                              const GlobalConfig& next);

// The plan as the JSON object of SPEC "Admin JSON", plus "global": {"changed": [KEY]}.
std::string render_plan_json(const ReloadPlan& plan);

}  // namespace arus
