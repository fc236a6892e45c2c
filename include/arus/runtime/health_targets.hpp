// From a snapshot to the health checker's work: which backends are checked, and how.
// Start-up and reload only (control thread).
#pragma once

#include <vector>

#include "arus/health/health_checker.hpp"
#include "arus/relay/route_runtime.hpp"

namespace arus {

// Turns active checks on or off in every backend's shared health (as its route's
// health_check says: a down backend of a route whose checks went off is left in plain
// back-off, so real traffic probes it again) and lists the backends of the routes with
// checks on, one per health object. Call at a commit, when `snapshot` becomes the
// running one, then hand the list to HealthChecker::update.
std::vector<HealthTarget> prepare_health_checks(const Snapshot& snapshot);

}  // namespace arus
