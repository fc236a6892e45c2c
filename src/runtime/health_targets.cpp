// Lists the checked backends of a snapshot and sets their check mode.
#include "arus/runtime/health_targets.hpp"

namespace arus {

std::vector<HealthTarget> prepare_health_checks(const Snapshot& snapshot) {
  std::vector<HealthTarget> targets;
  for (const auto& route : snapshot.routes) {
    const HealthCheckConfig& check = route->config.health_check;
    for (size_t i = 0; i < route->backend_count; ++i) {
      const std::shared_ptr<BackendHealth>& health = route->backends[i].health;
      health->set_actively_checked(check.enabled());
      if (!check.enabled()) continue;
      const BackendConfig& backend = route->config.backends[i];
      // The same HOST:PORT twice in a route shares one health object: one check.
      bool listed = false;
      for (size_t j = 0; j < i; ++j) listed = listed || route->backends[j].health == health;
      if (listed) continue;
      targets.push_back(HealthTarget{route->config.name, backend.name, backend.address, check,
                                     health, route->config.proxy_protocol.send});
    }
  }
  return targets;
}

}  // namespace arus
