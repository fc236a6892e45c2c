// A RouteConfig with named backends, as the loader would build it, for tests of what is
// built from a configuration (stats rows, snapshots). Names only: nothing is resolved.
// backend_at: one backend with its address, for tests that need one.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "arus/config/config.hpp"
#include "arus/net/address.hpp"

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

// A backend as the loader builds it for one address of a backend line: `name` as the
// line wrote it (a DNS name when `by_name`: one of the name's addresses), at `ip`:`port`.
inline BackendConfig backend_at(std::string name, const std::string& ip, uint16_t port,
                                bool by_name = false) {
  BackendConfig b;
  b.name = std::move(name);
  b.by_name = by_name;
  b.address = resolve(HostPort{ip, port}).value();
  return b;
}

}  // namespace arus::test
