// StatsServer: the stats pages and routing put on an HttpServer.
#include "arus/app/stats_server.hpp"

#include <string>
#include <utility>

namespace arus {

Result<std::unique_ptr<StatsServer>> StatsServer::create(Reactor& reactor, UniqueFd listener,
                                                         StatsSnapshotFn snapshot,
                                                         StatsServerOptions options) {
  std::unique_ptr<StatsServer> server(
      new StatsServer(reactor, std::move(snapshot), options.share_window_ms));
  HttpServerOptions http_options = options;
  http_options.name = "stats";
  StatsServer* raw = server.get();
  auto http = HttpServer::create(
      reactor, std::move(listener),
      [raw](const HttpRequest& request, std::string& out) {
        return append_stats_response(request, raw->page_body_, out, raw->draining_);
      },
      http_options);
  if (!http) return std::move(http).error();
  server->http_ = std::move(*http);
  return server;
}

StatsServer::StatsServer(Reactor& reactor, StatsSnapshotFn snapshot, uint64_t share_window_ms)
    : reactor_(reactor),
      pages_([snapshot = std::move(snapshot)](
                 size_t page) { return render_page(static_cast<StatsPage>(page), snapshot()); },
             kStatsPageCount, share_window_ms),
      page_body_([this](StatsPage page) {
        return pages_.body(static_cast<size_t>(page), reactor_.now_ms());
      }) {}

}  // namespace arus
