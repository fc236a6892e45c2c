// A RouteConfig with named backends, as the loader would build it, for tests of what is
// built from a configuration (stats rows, snapshots). Names only: nothing is resolved.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "arus/config/config.hpp"

namespace arus::test {

inline RouteConfig route_config(std::string name, std::vector<std::string> backends,
                                std::string listen = "127.0.0.1:8080") {
  RouteConfig r;
  r.name = std::move(name);
  r.listen_name = std::move(listen);
  for (auto& b : backends) {
    BackendConfig backend;
    backend.name = std::move(b);
    r.backends.push_back(std::move(backend));
  }
  return r;
}

}  // namespace arus::test
