// AdminServer: the admin API (admin_listen) on an HttpServer, with its own routing
// (parse_admin_request); what each command does is the runner's (the Server's). The
// stats listener never serves these paths. Not thread-safe: create, use and destroy it
// on its reactor's thread.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "arus/app/admin_endpoint.hpp"
#include "arus/config/admin_config.hpp"
#include "arus/core/result.hpp"
#include "arus/core/unique_fd.hpp"
#include "arus/http/http_server.hpp"
#include "arus/reactor/reactor.hpp"

namespace arus {

// Answers one command: `status` and a JSON object. Call exactly once, on the reactor
// thread, before or after the runner returns.
using AdminDone = std::function<void(int status, std::string json)>;
using AdminRunner = std::function<void(AdminCommand command, AdminDone done)>;

// The largest body the admin listener reads: a configuration sent to ?dry_run=1.
inline constexpr size_t kMaxAdminBodyBytes = 256 * 1024;

class AdminServer {
 public:
  // The listening socket of `admin`: a unix socket created mode 0600 (a stale socket
  // file nobody listens on is replaced; anything else at the path is an error), owned
  // by `owner` when this process may give it away (root), or a TCP socket. Errors are
  // bare reasons; the caller adds where admin_listen was written.
  static Result<UniqueFd> open_listener(const AdminConfig& admin, uid_t owner_uid,
                                        gid_t owner_gid);

  static Result<std::unique_ptr<AdminServer>> create(Reactor& reactor, UniqueFd listener,
                                                     AdminRunner runner);

  // As ~HttpServer: outside the reactor's dispatch.
  ~AdminServer() = default;
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  uint16_t port() const noexcept { return http_->port(); }
  size_t client_count() const noexcept { return http_->client_count(); }

 private:
  explicit AdminServer(AdminRunner runner) : runner_(std::move(runner)) {}
  HttpResponse answer(const HttpRequest& request, std::string& out);

  AdminRunner runner_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace arus
