// StatsServer: the stats endpoint (stats_listen): an HttpServer answering with
// append_stats_response, its /metrics and /stats bodies shared through a PageCache.
// Not thread-safe: create, use and destroy it on its reactor's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "arus/app/stats_endpoint.hpp"
#include "arus/core/result.hpp"
#include "arus/core/unique_fd.hpp"
#include "arus/http/http_server.hpp"
#include "arus/http/page_cache.hpp"
#include "arus/net/address.hpp"
#include "arus/reactor/reactor.hpp"

namespace arus {

struct StatsServerOptions : HttpServerOptions {
  // A /metrics or /stats rendering still being sent to some client is shared with new
  // requests for this long (see PageCache): so at most response_timeout_ms /
  // share_window_ms + 1 bodies of a page are held at once, however many clients ask.
  uint64_t share_window_ms = 1000;
};

class StatsServer {
 public:
  // HttpServer::open_listener; the error names the address.
  static Result<UniqueFd> open_listener(const SocketAddress& address) {
    return HttpServer::open_listener(address);
  }

  // Serves on `listener` through `reactor`, which must outlive the server. `snapshot` is
  // called on the reactor thread for each rendering of /metrics and /stats (see
  // share_window_ms). Call on the reactor thread, or before that thread runs the reactor.
  static Result<std::unique_ptr<StatsServer>> create(Reactor& reactor, UniqueFd listener,
                                                     StatsSnapshotFn snapshot,
                                                     StatsServerOptions options = {});

  // Closes the listener and every client: as ~HttpServer, outside the reactor's dispatch.
  ~StatsServer() = default;
  StatsServer(const StatsServer&) = delete;
  StatsServer& operator=(const StatsServer&) = delete;

  // The port the listener is bound to (useful after binding port 0), or 0 on error.
  uint16_t port() const noexcept { return http_->port(); }
  size_t client_count() const noexcept { return http_->client_count(); }
  // From now on /healthz answers 503 "draining" (SPEC "Health for what stands in front").
  void set_draining() noexcept { draining_ = true; }

 private:
  StatsServer(Reactor& reactor, StatsSnapshotFn snapshot, uint64_t share_window_ms);

  Reactor& reactor_;
  PageCache pages_;
  PageBodyFn page_body_;              // pages_ at the reactor's time, for append_stats_response
  bool draining_ = false;
  std::unique_ptr<HttpServer> http_;  // last: gone before what its handler uses
};

}  // namespace arus
