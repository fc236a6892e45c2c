// RouteRuntime: the per-route state a snapshot shares with every worker. Built by
// runtime/snapshot_builder; the relay only reads it.
#include "arus/relay/route_runtime.hpp"

#include <utility>

namespace arus {

RouteRuntime::RouteRuntime(const RouteConfig& route_config, FilterInstancePtr filter_instance,
                           std::shared_ptr<Admission> route_admission)
    : config(route_config),
      backends(make_backend_states(route_config.backends)),
      backend_count(route_config.backends.size()),
      filter(std::move(filter_instance)),
      admission(std::move(route_admission)) {}

}  // namespace arus
