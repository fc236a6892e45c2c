// Moving a configuration parsed on another thread into the calling thread's heap.
#include "arus/config/config_relocation.hpp"

#include <utility>

namespace arus {

Config relocated(Config& parsed) {
  RouteList<RouteConfig> routes = std::move(parsed.routes);  // kept out of the copy below
  Config here = parsed;  // every other field, whatever they are, copied by this thread
  here.routes = routes.relocated();
  parsed.routes = std::move(routes);
  return here;
}

}  // namespace arus
